"""The neural describer: a transformers image-text-to-text model writes the music description.

The paper's Multimodal Music Description Model is InternVL2 fine-tuned with LoRA. Here any
``AutoModelForImageTextToText`` checkpoint with an ``AutoProcessor`` and a chat template works;
the default is the transformers-native ``OpenGVLab/InternVL3-1B-hf`` (same family, no
``trust_remote_code``). The frames of a video (and any images) go into one chat message as
images, "Frame1: <image> Frame2: <image> ...", the way InternVL lays out video, followed by the
prompt of ``configs/prompts/describe.txt``; the answer is parsed by
:func:`vmb.describe.parse.parse_answer`.

Without torchvision (not a vmb dependency) transformers cannot build the *video* processors of
InternVL, Qwen2-VL, LLaVA-OneVision... even though the image path needs none of it; the
processor is then loaded without its video processor (see :func:`load_processor`), which is
all this describer uses.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vmb.config import Config, configs_dir, loader_settings
from vmb.describe.inputs import VISUAL_KINDS, ensure_frames
from vmb.describe.parse import ParsedAnswer, parse_answer
from vmb.describe.schema import merge
from vmb.describe.text import parse_text
from vmb.errors import ConfigError
from vmb.types import MediaInput, MusicDescription
from vmb.vocab import Vocab, load_vocab

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "OpenGVLab/InternVL3-1B-hf"
PROMPT_FILE = "prompts/describe.txt"
MISSING_HINT = (
    "run `vmb describe --describer visual` for the built-in describer, "
    "or pass a local path with --set describer.model=/path"
)


def load_processor(model_id: str, **kwargs: Any):
    """``AutoProcessor.from_pretrained``, or, without torchvision, the same processor class
    loaded without its video processor (frames are given to it as images)."""
    from transformers import AutoConfig, AutoProcessor
    from transformers.utils import is_torchvision_available

    if is_torchvision_available():
        return AutoProcessor.from_pretrained(model_id, **kwargs)
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

    config = AutoConfig.from_pretrained(model_id, **kwargs)
    processor_class = PROCESSOR_MAPPING.get(type(config), None)
    if processor_class is None or "video_processor" not in processor_class.get_attributes():
        return AutoProcessor.from_pretrained(model_id, **kwargs)
    logger.info(
        "torchvision is not installed: loading %s without its video processor; frames go in as images",
        processor_class.__name__,
    )
    return _without_video_processor(processor_class).from_pretrained(model_id, **kwargs)


def _without_video_processor(processor_class: type) -> type:
    """A subclass of ``processor_class`` whose sub-processors leave out ``video_processor``."""

    def get_attributes(cls) -> list[str]:
        return [a for a in super(subclass, cls).get_attributes() if a != "video_processor"]

    subclass = type(
        processor_class.__name__,
        (processor_class,),
        {"get_attributes": classmethod(get_attributes)},
    )
    subclass.__doc__ = (
        f"{processor_class.__name__} without its video processor (torchvision absent)."
    )
    return subclass


def load_prompt_template(path: str | os.PathLike | None = None) -> string.Template:
    """The describe prompt (``configs/prompts/describe.txt`` unless ``path``)."""
    path = Path(path) if path else configs_dir() / PROMPT_FILE
    try:
        return string.Template(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: prompt file not found") from None


def _visuals_phrase(num_video_frames: int, num_images: int) -> str:
    parts = []
    if num_video_frames:
        parts.append(f"{num_video_frames} frame{'s' if num_video_frames != 1 else ''} of a video")
    if num_images:
        parts.append(f"{num_images} image{'s' if num_images != 1 else ''}")
    return " and ".join(parts)


class VLMDescriber:
    """Music descriptions from a vision-language model.

    Build it with :meth:`from_pretrained` (a hub id or a local folder) or :meth:`from_config`.

    Attributes:
        model: the ``AutoModelForImageTextToText`` model, in eval mode on ``device``.
        processor: its processor (chat template, image processor, tokenizer).
        model_id: what it was loaded from.
        num_frames: frames sampled from a video.
        max_new_tokens, batch_size: generation settings.
        last_notes: the parser's remarks on the most recent answers (fallbacks taken).
        last_answers: the raw decoded answers of the most recent call.
    """

    name = "vlm"

    def __init__(
        self,
        model,
        processor,
        model_id: str,
        num_frames: int = 8,
        max_new_tokens: int = 256,
        batch_size: int = 4,
        prompt: string.Template | None = None,
        vocab: Vocab | None = None,
    ):
        if num_frames < 1:
            raise ConfigError(f"describer.num_frames = {num_frames}: must be at least 1")
        if batch_size < 1:
            raise ConfigError(f"describer.batch_size = {batch_size}: must be at least 1")
        self.model = model
        self.processor = processor
        self.model_id = model_id
        self.num_frames = int(num_frames)
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = int(batch_size)
        self.prompt = prompt or load_prompt_template()
        self.vocab = vocab or load_vocab()
        self.last_notes: tuple[str, ...] = ()
        self.last_answers: tuple[str, ...] = ()

    @property
    def device(self):
        return self.model.device

    @classmethod
    def from_pretrained(
        cls,
        model_id_or_path: str = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        num_frames: int = 8,
        trust_remote_code: bool = False,
        max_new_tokens: int = 256,
        batch_size: int = 4,
        local_files_only: bool | None = None,
    ) -> VLMDescriber:
        """Load the model and processor from a hub id or a local folder.

        Loaded through :func:`vmb.hub.load_pretrained` (a local folder, then the cache, then the
        hub); ``HF_HUB_OFFLINE=1`` (or ``local_files_only=True``) never touches the network.

        Raises:
            ModelUnavailable: the weights are neither local nor downloadable; the message names
                the model, where it looked, and how to use the built-in describer instead.
            ConfigError: the checkpoint is not an image-text-to-text model.
        """
        from transformers import AutoModelForImageTextToText

        from vmb.hub import load_pretrained, resolve_device, resolve_dtype

        model_id = str(model_id_or_path)
        device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, device)
        load = {"hint": MISSING_HINT, "offline": local_files_only or None}
        try:
            processor = load_pretrained(
                load_processor, model_id, trust_remote_code=trust_remote_code, **load
            )
            model = load_pretrained(
                AutoModelForImageTextToText.from_pretrained,
                model_id,
                dtype=torch_dtype,
                trust_remote_code=trust_remote_code,
                **load,
            )
        except (ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"{model_id}: not a usable image-text-to-text model ({first})"
            ) from None
        if getattr(processor, "chat_template", None) is None:
            raise ConfigError(
                f"{model_id}: the processor has no chat template; the describer needs one"
            )
        model = model.to(device).eval()
        return cls(model, processor, model_id, num_frames, max_new_tokens, batch_size)

    @classmethod
    def from_config(cls, config: Config, model: str | None = None) -> VLMDescriber:
        """From ``config.describer`` (model, num_frames, max_new_tokens, batch_size,
        trust_remote_code) and ``config.device`` / ``config.dtype``; ``model`` overrides."""
        settings = loader_settings(cls.from_pretrained, config, config.describer)
        return cls.from_pretrained(model or config.describer.model, **settings)

    # ------------------------------------------------------------------------------------
    # Prompt

    def build_request(
        self, inputs: Sequence[MediaInput]
    ) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
        """The chat messages and the images (``[H, W, 3]`` uint8, in order) for one request.

        Video frames come first as "Frame1: <image>..." (InternVL's video layout), then the
        images, then the prompt with the vocabularies and the user's text.
        """
        content: list[dict[str, Any]] = []
        images: list[np.ndarray] = []
        num_video_frames = num_images = 0
        for item in inputs:
            if item.kind not in VISUAL_KINDS:
                continue
            item = ensure_frames(item, self.num_frames)
            if item.kind == "video":
                for frame, ts in zip(item.frames, item.timestamps):
                    num_video_frames += 1
                    content.append(
                        {"type": "text", "text": f"Frame{num_video_frames} ({ts:.1f} s): "}
                    )
                    content.append({"type": "image"})
                    content.append({"type": "text", "text": "\n"})
                    images.append(np.ascontiguousarray(frame))
            else:
                num_images += 1
                content.append({"type": "text", "text": f"Image{num_images}: "})
                content.append({"type": "image"})
                content.append({"type": "text", "text": "\n"})
                images.append(np.ascontiguousarray(item.frames[0]))
        user_text = " ".join(
            i.text.strip() for i in inputs if i.kind == "text" and i.text and i.text.strip()
        )
        content.append(
            {"type": "text", "text": self.prompt_text(num_video_frames, num_images, user_text)}
        )
        return [{"role": "user", "content": content}], images

    def prompt_text(self, num_video_frames: int, num_images: int, user_text: str = "") -> str:
        """The instruction after the frames, from ``configs/prompts/describe.txt``."""
        v = self.vocab
        request = (
            f'The user asks for: "{user_text}". Follow it for every field it sets.'
            if user_text
            else ""
        )
        try:
            return self.prompt.substitute(
                visuals=_visuals_phrase(num_video_frames, num_images),
                genres=", ".join(v.genres),
                moods=", ".join(v.moods),
                instruments=", ".join(v.instruments),
                slow_max=f"{v.slow_max:g}",
                medium_max=f"{v.medium_max:g}",
                user_request=request,
            ).strip()
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"describe prompt: unknown or malformed placeholder {exc}") from None

    # ------------------------------------------------------------------------------------
    # Generation

    def generate_answers(self, requests: Sequence[Sequence[MediaInput]]) -> list[str]:
        """The model's raw answers, one per request, generated in batches of ``batch_size``."""
        import torch

        answers: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = [self.build_request(r) for r in requests[start : start + self.batch_size]]
            prompts = [
                self.processor.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=False
                )
                for messages, _ in chunk
            ]
            images = [image for _, imgs in chunk for image in imgs]
            kwargs: dict[str, Any] = {"text": prompts, "return_tensors": "pt", "padding": True}
            if images:
                kwargs["images"] = images
                # One tile per frame when there are several (InternVL's video setting); a single
                # image may be tiled at full detail.
                if any(len(imgs) > 1 for _, imgs in chunk):
                    kwargs["crop_to_patches"] = False
            try:
                batch = self.processor(**kwargs)
            except TypeError:
                kwargs.pop("crop_to_patches", None)  # processors without InternVL's tiling option
                batch = self.processor(**kwargs)
            batch = batch.to(self.model.device)
            if "pixel_values" in batch:
                batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
            tokenizer = getattr(self.processor, "tokenizer", self.processor)
            with torch.inference_mode():
                out = self.model.generate(
                    **batch,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id
                    if tokenizer.pad_token_id is not None
                    else tokenizer.eos_token_id,
                )
            new_tokens = out[:, batch["input_ids"].shape[1] :]
            answers += self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [a.strip() for a in answers]

    def describe_batch(self, requests: Sequence[Sequence[MediaInput]]) -> list[MusicDescription]:
        """One description per list of inputs; the visual requests are generated in batches.

        A request without visuals (text only) is not sent to the model: its text is parsed.
        Text in a request is also merged over the model's fields (see
        :func:`vmb.describe.schema.merge`).
        """
        requests = [list(r) for r in requests]
        visual = [i for i, r in enumerate(requests) if any(m.kind in VISUAL_KINDS for m in r)]
        answers = dict(zip(visual, self.generate_answers([requests[i] for i in visual])))
        notes: list[str] = []
        results: list[MusicDescription] = []
        for i, request in enumerate(requests):
            words = _parse_words(request, self.vocab)
            if i not in answers:
                results.append(merge(None, words, self.vocab))
                continue
            parsed: ParsedAnswer = parse_answer(
                answers[i], self.vocab, source=f"vlm:{self.model_id}"
            )
            for note in parsed.notes:
                logger.warning("%s: %s", self.model_id, note)
                notes.append(note)
            # what the model read in the pictures is inferred, never the user's own value
            results.append(merge(parsed.description.replace(stated=()), words, self.vocab))
        self.last_notes = tuple(notes)
        self.last_answers = tuple(answers[i] for i in visual)
        return results

    def describe(self, inputs: Sequence[MediaInput]) -> MusicDescription:
        """The description of one set of inputs (video, images and/or text)."""
        return self.describe_batch([inputs])[0]


def _parse_words(inputs: Sequence[MediaInput], vocab: Vocab) -> MusicDescription | None:
    texts = [i.text.strip() for i in inputs if i.kind == "text" and i.text and i.text.strip()]
    return parse_text(" ".join(texts), vocab) if texts else None


__all__ = [
    "DEFAULT_MODEL",
    "VLMDescriber",
    "load_processor",
]
