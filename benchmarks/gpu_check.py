"""The CUDA paths on full-size random-weight models, timed: no downloads, minutes not hours.

For whenever a GPU machine is at hand (``benchmarks/gpu_check.sh`` runs this), and on the CPU as
a smoke test (``--device cpu --seconds 1``). Each part builds a model from the published
configuration of the checkpoint vmb uses, with random weights, saves it with
``save_pretrained`` into a temporary folder and loads it through vmb's production loader:

* ``musicgen``: musicgen-small (``MusicgenDecoderConfig`` defaults: 24 layers, 1024 wide, 4
  codebooks of 2048; the T5-base text encoder; the 32 kHz EnCodec) through
  :class:`vmb.generate.MusicGenGenerator` — vmb's own sampling loop with its KV cache — under
  each dtype (float16 and bfloat16 on CUDA, float32 on the CPU), side by side with transformers'
  ``model.generate`` (its KV cache) for the same number of tokens;
* ``faiss``: exact inner-product search of 100 000 x 512 vectors (10 000 on the CPU smoke run)
  on the CPU and, when faiss-gpu sees a GPU, on the GPU, with the agreement of the two;
* ``describer``: an InternVL3-1B-sized InternVL (InternViT-300M at 448 px + a Qwen2-0.5B text
  model) through :class:`vmb.describe.vlm.VLMDescriber` on a few video frames.

Random weights make noise, not music: this measures speed, memory and that the paths run
(finite audio of the right length, a parsed description), not quality.

    python -m benchmarks.gpu_check [--device auto] [--seconds 10] [--parts musicgen,faiss,describer]

Results: benchmarks/results/gpu_check.json (``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "gpu_check.json"
PARTS = ("musicgen", "faiss", "describer")


def _tests_on_path() -> None:
    """The tokenizer builders of tests/tiny (trained offline with ``tokenizers``)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_reset(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gb(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 1e9, 3) if device.startswith("cuda") else None


# ---------------------------------------------------------------- musicgen
def save_musicgen_small(folder: Path, seed: int = 0) -> Path:
    """musicgen-small's architecture with random weights, saved like the hub checkpoint."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        GenerationConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    _tests_on_path()
    from tiny.musicgen import train_t5_tokenizer

    tokenizer = train_t5_tokenizer()
    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                    feed_forward_proj="relu", pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)  # fmt: skip
    codec = EncodecConfig(sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], target_bandwidths=[2.2],
                          codebook_size=2048, codebook_dim=128, hidden_size=128, num_filters=64,
                          num_lstm_layers=2, use_causal_conv=False, use_conv_shortcut=False,
                          normalize=False, audio_channels=1)  # fmt: skip
    decoder = MusicgenDecoderConfig()  # the defaults are musicgen-small's decoder
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(
        MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict())
    )
    pad = decoder.pad_token_id
    model.generation_config = GenerationConfig(do_sample=True, guidance_scale=3.0, top_k=250, max_length=1500,
                                               bos_token_id=pad, pad_token_id=pad, decoder_start_token_id=pad)  # fmt: skip
    model.save_pretrained(folder)
    extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=32000, padding_value=0.0)
    MusicgenProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    del model
    gc.collect()
    return folder


def check_musicgen(folder: Path, device: str, seconds: float, compare: bool) -> list[dict[str, Any]]:
    """vmb's MusicGen (KV cache) under each dtype, and (``compare``) transformers' generate for
    the same number of tokens. On CUDA a 1 s run first warms the kernels up."""
    import numpy as np
    import torch

    from vmb.generate import MusicGenGenerator
    from vmb.types import Bridges, MusicDescription, Wants

    dtypes = ["float16", "bfloat16"] if device.startswith("cuda") else ["float32"]
    if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
        dtypes.remove("bfloat16")
    bridges = Bridges(description=MusicDescription(text="calm piano", source="text"), text="calm piano",
                      references=(), wants=Wants(), text_weight=3.0, music_weight=1.0)  # fmt: skip
    rows = []
    for dtype in dtypes:
        _peak_reset(device)
        start = time.perf_counter()
        gen = MusicGenGenerator.from_pretrained(str(folder), device=device, dtype=dtype)
        load_s = time.perf_counter() - start
        if device.startswith("cuda"):
            gen.generate(bridges, min(seconds, 1.0), seed=0)  # warm-up: kernels, autocast caches
            _sync(device)
        start = time.perf_counter()
        result = gen.generate(bridges, seconds, seed=1)
        _sync(device)
        vmb_s = time.perf_counter() - start
        audio = result.audio
        steps = round(seconds * gen.frame_rate)
        plain_s = None
        if compare:  # transformers' own sampling (its KV cache): same tokens, guidance and dtype
            inputs = gen.tokenizer(["calm piano"], return_tensors="pt").to(device)
            autocast = (torch.autocast(device_type="cuda", dtype=getattr(torch, dtype))
                        if device.startswith("cuda") else torch.autocast(device_type="cpu", enabled=False))  # fmt: skip
            with torch.inference_mode(), autocast:
                start = time.perf_counter()
                gen.model.generate(**inputs, do_sample=True, guidance_scale=3.0, max_new_tokens=steps + 3,
                                   use_cache=True)  # fmt: skip
                _sync(device)
                plain_s = time.perf_counter() - start
        rows.append({
            "dtype": dtype,
            "load_s": round(load_s, 3),
            "seconds_of_music": seconds,
            "decoder_steps": steps,
            "vmb_generate_s": round(vmb_s, 3),
            "vmb_steps_per_s": round(steps / vmb_s, 1),
            "vmb_realtime_factor": round(seconds / vmb_s, 3),
            "transformers_generate_s": round(plain_s, 3) if plain_s else None,
            "vmb_over_transformers": round(vmb_s / plain_s, 3) if plain_s else None,
            "audio_shape": list(audio.shape),
            "audio_ok": bool(np.isfinite(audio).all() and audio.shape[-1] == round(seconds * gen.sample_rate)),
            "peak_gpu_gb": _peak_gb(device),
            "notes": list(result.notes),
        })  # fmt: skip
        del gen
        gc.collect()
    return rows


# ---------------------------------------------------------------- faiss
def check_faiss(device: str, count: int) -> dict[str, Any]:
    """Exact IP search on the CPU and, with faiss-gpu and a GPU, on the GPU."""
    import faiss
    import numpy as np

    from vmb.retrieve.encoders.base import l2_normalize
    from vmb.retrieve.faiss_index import gpu_status, to_gpu

    rng = np.random.default_rng(0)
    vectors = l2_normalize(rng.standard_normal((count, 512), dtype=np.float32))
    queries = l2_normalize(rng.standard_normal((1000, 512), dtype=np.float32))
    index = faiss.IndexFlatIP(512)
    index.add(vectors)
    start = time.perf_counter()
    _, cpu_ids = index.search(queries, 10)
    report: dict[str, Any] = {"vectors": count, "dim": 512, "queries": 1000, "k": 10,
                              "cpu_search_s": round(time.perf_counter() - start, 4)}  # fmt: skip
    gpu_build, gpus = gpu_status()
    report["faiss_gpu_build"], report["gpus"] = gpu_build, gpus
    if not (gpu_build and gpus and device.startswith("cuda")):
        report["gpu"] = "skipped: " + ("no GPU visible to faiss" if gpu_build else "faiss CPU build")
        return report
    gpu_index = to_gpu(index)
    gpu_index.search(queries[:10], 10)  # warm-up
    start = time.perf_counter()
    _, gpu_ids = gpu_index.search(queries, 10)
    report["gpu_search_s"] = round(time.perf_counter() - start, 4)
    report["cpu_over_gpu"] = round(report["cpu_search_s"] / max(report["gpu_search_s"], 1e-9), 2)
    report["top10_agreement"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(cpu_ids, gpu_ids)])), 4)
    return report


# ---------------------------------------------------------------- describer
def save_internvl_1b(folder: Path, seed: int = 0) -> Path:
    """An InternVL3-1B-sized InternVL (random weights) with InternVL's processor files."""
    import torch
    from transformers import GenerationConfig, InternVLConfig, InternVLForConditionalGeneration
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    _tests_on_path()
    from tiny.vlm import CHAT_TEMPLATE, make_tiny_tokenizer

    tokenizer = make_tiny_tokenizer()
    config = InternVLConfig(
        vision_config={"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                       "intermediate_size": 4096, "image_size": 448, "patch_size": 14},
        text_config={"model_type": "qwen2", "vocab_size": 151674, "hidden_size": 896, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864,
                     "max_position_embeddings": 32768, "tie_word_embeddings": True},
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=256,
        downsample_ratio=0.5,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, do_sample=False)  # fmt: skip
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    GotOcr2ImageProcessorPil(size={"height": 448, "width": 448}, crop_to_patches=False, min_patches=1,
                             max_patches=1).save_pretrained(folder)  # fmt: skip
    (folder / "processor_config.json").write_text(
        json.dumps({"processor_class": "InternVLProcessor", "image_seq_length": 256}, indent=2)
    )
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    del model
    gc.collect()
    return folder


def check_describer(folder: Path, device: str, frames: int, max_new_tokens: int) -> dict[str, Any]:
    import numpy as np

    from vmb.describe.vlm import VLMDescriber
    from vmb.types import MediaInput

    _peak_reset(device)
    start = time.perf_counter()
    describer = VLMDescriber.from_pretrained(str(folder), device=device, num_frames=frames,
                                             max_new_tokens=max_new_tokens)  # fmt: skip
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    video = MediaInput(kind="video", path="random.mp4", frames=rng.integers(0, 255, (frames, 448, 448, 3), dtype=np.uint8),
                       timestamps=tuple(float(i) for i in range(frames)), duration_s=float(frames))  # fmt: skip
    if device.startswith("cuda"):
        describer.describe([video])  # warm-up: kernels
        _sync(device)
    start = time.perf_counter()
    description = describer.describe([video])
    _sync(device)
    return {"frames": frames, "max_new_tokens": max_new_tokens, "load_s": round(load_s, 3),
            "describe_s": round(time.perf_counter() - start, 3), "dtype": str(describer.model.dtype),
            "device": str(describer.model.device), "description_source": description.source,
            "peak_gpu_gb": _peak_gb(device)}  # fmt: skip


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of music per MusicGen run")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    parser.add_argument("--frames", type=int, default=8, help="video frames for the describer")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="describer answer length")
    parser.add_argument("--compare", action=argparse.BooleanOptionalAction, default=None,
                        help="also time transformers' generate (default: on CUDA only)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)
    parts = [p.strip() for p in opts.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown {', '.join(unknown)}; use {', '.join(PARTS)}")

    import torch

    from vmb.hub import resolve_device

    device = resolve_device(opts.device)
    report: dict[str, Any] = {"benchmark": "gpu_check", "device": device, "parts": parts,
                              "machine": {"gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None}}  # fmt: skip
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vmb-gpu-check-") as tmp:
        tmp = Path(tmp)
        if "faiss" in parts:
            report["faiss"] = check_faiss(device, 100_000 if device.startswith("cuda") else 10_000)
            print(json.dumps({"faiss": report["faiss"]}), file=sys.stderr)
        if "musicgen" in parts:
            start = time.perf_counter()
            folder = save_musicgen_small(tmp / "musicgen-small")
            report["musicgen_build_s"] = round(time.perf_counter() - start, 3)
            compare = device.startswith("cuda") if opts.compare is None else opts.compare
            report["musicgen"] = check_musicgen(folder, device, opts.seconds, compare)
            print(json.dumps({"musicgen": report["musicgen"]}), file=sys.stderr)
        if "describer" in parts:
            start = time.perf_counter()
            folder = save_internvl_1b(tmp / "internvl-1b")
            report["describer_build_s"] = round(time.perf_counter() - start, 3)
            report["describer"] = check_describer(folder, device, opts.frames, opts.max_new_tokens)
            print(json.dumps({"describer": report["describer"]}), file=sys.stderr)
    report["total_s"] = round(time.perf_counter() - total, 1)
    from benchmarks.common import write_result

    write_result(opts.out, report, argv)
    return report


if __name__ == "__main__":
    main()
