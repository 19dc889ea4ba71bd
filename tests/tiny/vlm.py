"""A tiny random InternVL (the default describer's classes) saved with ``save_pretrained``.

The pattern of transformers' own tests: the real classes, small sizes, random weights.

- model: ``InternVLForConditionalGeneration`` from an ``InternVLConfig`` with a 1-layer vision
  tower (56 px images, 14 px patches) and a 1-layer Qwen2 text model;
- tokenizer: ``Qwen2Tokenizer`` around a byte-level BPE trained here with ``tokenizers`` on the
  vocabulary words and JSON answers, with the special tokens the InternVL processor needs
  (``<img>``, ``</img>``, ``<IMG_CONTEXT>``, ``<video>``, ``<|im_start|>``, ``<|im_end|>``);
- image processor: ``GotOcr2ImageProcessor`` (InternVL's) at 56 px, 4 image tokens per tile;
- the folder layout of ``OpenGVLab/InternVL3-1B-hf``: ``config.json``, ``model.safetensors``,
  ``generation_config.json``, ``tokenizer.json``, ``tokenizer_config.json``,
  ``preprocessor_config.json``, ``video_preprocessor_config.json``, ``processor_config.json``
  and ``chat_template.jinja`` (InternVL's chat template).

``save_tiny_vlm(folder)`` writes it; ``VLMDescriber.from_pretrained(folder)`` (the production
path: ``AutoModelForImageTextToText`` + the processor) loads it. It generates garbage text.
"""

from __future__ import annotations

import json
from pathlib import Path

IMAGE_SIZE = 56
PATCH_SIZE = 14
# (56 / 14) ** 2 patches, pixel-shuffled by downsample_ratio 0.5 -> 4 tokens per tile.
IMAGE_SEQ_LENGTH = 4

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<video>",
]
IMAGE_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}

# InternVL3-hf's chat template (system prompt left out).
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif content['type'] == 'video' %}{{ '<video>\\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    from vmb.vocab import load_vocab

    vocab = load_vocab()
    lines: list[str] = []
    for kind in ("genre", "mood", "instrument", "tempo", "mode"):
        for name, synonyms in vocab.table(kind).items():
            lines.append(name)
            lines.extend(synonyms)
    lines += [
        '{"genre": "pop", "mood": ["happy", "fun"], "instruments": ["bass", "drums"], "tempo_bpm": 120}',
        '{"key": "D", "mode": "minor", "energy": 0.3, "theme": "night city"}',
        "An uplifting and catchy pop track, blending bass, synthesizer, drums.",
        "You are a music supervisor. Answer with one JSON object and nothing else.",
        "Frame1: Frame2: Image1: The user asks for:",
    ]
    return lines * 4


def make_tiny_tokenizer():
    """A ``Qwen2Tokenizer`` (vocabulary ~700) with InternVL's image tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(_corpus(), trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=IMAGE_TOKENS,
        model_max_length=4096,
    )


def make_tiny_image_processor():
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    return GotOcr2ImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        crop_to_patches=False,
        min_patches=1,
        max_patches=4,
    )


def save_tiny_vlm(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny random InternVL checkpoint (model, tokenizer, processors) to ``folder``."""
    import torch
    from transformers import GenerationConfig, InternVLConfig, InternVLForConditionalGeneration

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tiny_tokenizer()
    config = InternVLConfig(
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "intermediate_size": 64,
            "max_position_embeddings": 4096,
            "tie_word_embeddings": True,
            "initializer_range": 0.5,
        },
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=IMAGE_SEQ_LENGTH,
        downsample_ratio=0.5,
    )
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    make_tiny_image_processor().save_pretrained(folder)
    # The processor files of the real checkpoint. The video processor config is written as
    # JSON: its class needs torchvision to be built, which vmb does not depend on.
    (folder / "processor_config.json").write_text(
        json.dumps(
            {"processor_class": "InternVLProcessor", "image_seq_length": IMAGE_SEQ_LENGTH}, indent=2
        )
    )
    (folder / "video_preprocessor_config.json").write_text(
        json.dumps(
            {
                "video_processor_type": "InternVLVideoProcessor",
                "processor_class": "InternVLProcessor",
                "size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                "do_resize": True,
                "do_rescale": True,
                "do_normalize": True,
                "image_mean": [0.485, 0.456, 0.406],
                "image_std": [0.229, 0.224, 0.225],
            },
            indent=2,
        )
    )
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return folder


__all__ = ["CHAT_TEMPLATE", "IMAGE_SEQ_LENGTH", "make_tiny_tokenizer", "save_tiny_vlm"]
