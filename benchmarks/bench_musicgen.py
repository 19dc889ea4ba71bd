"""Speed and memory of vmb's MusicGen generator against plain ``model.generate``.

The model is the full-size ``facebook/musicgen-small`` architecture with random weights (speed
does not depend on the values): T5-base text encoder, decoder of 24 layers, hidden 1024,
16 heads, 4 codebooks of 2048 codes, the 32 kHz EnCodec. Guidance is on everywhere
(``guidance_scale`` / ``text_weight`` 3, top-k 250, sampling). Measured in one run, in order:

- ``plain_fp32``: ``torch.manual_seed(s); model.generate(**inputs, do_sample=True,
  guidance_scale=3, top_k=250, max_new_tokens=frames + 3)``, T5 and EnCodec included;
- ``vmb_fp32``: ``MusicGenGenerator.generate(bridges, seconds, seed=s, music_weight=0)``, the
  same work; its audio must equal plain generate's to the bit (checked: ``identical_to_plain``);
- ``vmb_fp32_dual``: dual guidance, 3 rows per step, with an untrained adapter (reference tokens
  and a 2-block ControlFormer) reading a reference clip;
- ``plain_int8``, ``vmb_int8``, ``vmb_int8_dual``: the same three on a copy of the model whose
  decoder (and adapter) is quantized to int8 (``quantize_decoder``); the int8 quality is checked
  first: conditional logits of the same teacher-forced codes, float32 vs int8 on the same
  weights (cosine similarity, top-1 agreement, KL).

The six methods run interleaved (``plain_fp32, vmb_fp32, plain_int8, vmb_int8, vmb_fp32_dual,
vmb_int8_dual``) in each of ``--repeats`` rounds; the minimum wall time is kept.

Then the cost of one decoding step is measured on short runs (``--step-seconds``) for single
guidance, dual guidance with reference tokens only (the third row) and dual guidance with
reference tokens and the 2-block ControlFormer, interleaved over both precisions
``--step-repeats`` times, minimum kept.

Reported per method: wall seconds, seconds per generated second, sampling-loop seconds per
decoding step (vmb), peak RSS during the method (sampled every 10 ms) and over the RSS of the
loaded models;
ratios: plain_fp32 / vmb_int8 (the issue's target, >= 2), plain_fp32 / vmb_fp32 (the loop
alone), plain_int8 / vmb_int8, dual / single step cost (target <= 1.3).

    python -m benchmarks.bench_musicgen [--seconds 5] [--threads N] [--repeats R] [--skip-int8]

Writes ``benchmarks/results/musicgen.json``. On a shared 2-core machine numbers are noisy;
``--repeats`` interleaves the methods and keeps the minimum; ``--threads 1`` avoids OpenMP
stalls when other processes hold the cores.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import write_result

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "musicgen.json"
TEXT = "An uplifting and catchy pop track, blending bass, synthesizer, drums with fast-paced tempo"


def _commit() -> str:
    """The commit of the vmb tree that ran (``+dirty`` when it has uncommitted changes)."""
    import vmb

    root = Path(vmb.__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "vmb"],
                               capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def peak_rss():
    """Yields ``{"peak": bytes}``, the process RSS sampled every 10 ms while active."""
    box = {"peak": rss_bytes()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            box["peak"] = max(box["peak"], rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        stop.set()
        thread.join()
        box["peak"] = max(box["peak"], rss_bytes())


def t5_tokenizer():
    """A T5 tokenizer trained offline on a few sentences (the hub's is not reachable here)."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.trainers import UnigramTrainer
    from transformers import T5Tokenizer

    corpus = [
        TEXT,
        "A calm ambient piece with soft piano and warm pads, slow tempo, in C major.",
    ] * 8
    tokenizer = Tokenizer(Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.train_from_iterator(
        corpus,
        trainer=UnigramTrainer(
            vocab_size=100, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
        ),
    )
    vocab = [(p, float(s)) for p, s in json.loads(tokenizer.to_str())["model"]["vocab"]]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def musicgen_small_random():
    """``facebook/musicgen-small``'s architecture with random weights (and random codebooks)."""
    import torch
    from transformers import (
        EncodecConfig,
        GenerationConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    text = T5Config(  # t5-base
        vocab_size=32128,
        d_model=768,
        d_kv=64,
        d_ff=3072,
        num_layers=12,
        num_heads=12,
        feed_forward_proj="relu",
        relative_attention_num_buckets=32,
    )
    codec = EncodecConfig(  # encodec_32khz
        sampling_rate=32000,
        audio_channels=1,
        target_bandwidths=[2.2],
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048,
        codebook_dim=128,
        hidden_size=128,
        num_filters=64,
        num_lstm_layers=2,
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
        compress=2,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        ffn_dim=4096,
        num_codebooks=4,
        max_position_embeddings=2048,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(
        MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)
    ).eval()
    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    model.generation_config = GenerationConfig(
        do_sample=True,
        guidance_scale=3.0,
        top_k=250,
        max_length=1500,
        bos_token_id=2048,
        pad_token_id=2048,
        decoder_start_token_id=2048,
    )
    return model


def teacher_forced_logits(model, tokenizer, codes):
    """Conditional logits ``[K, L, V]`` of delayed codes ``[K, L]`` (start token first)."""
    import torch

    inputs = tokenizer([TEXT], return_tensors="pt")
    with torch.inference_mode():
        return model(**inputs, decoder_input_ids=codes).logits.float()


def delayed(codes, pad: int):
    """Undelayed ``[K, F]`` -> the delayed layout ``[K, 1 + F + K - 1]`` MusicGen decodes."""
    import torch

    k, frames = codes.shape
    seq = torch.full((k, frames + k), pad, dtype=torch.long)
    for i in range(k):
        seq[i, 1 + i : 1 + i + frames] = codes[i]
    return seq


def main(argv: list[str] | None = None) -> dict:
    import torch
    from transformers.utils import logging as transformers_logging

    import vmb
    from vmb.generate import MusicGenGenerator
    from vmb.generate.musicgen.adapters import create_adapter
    from vmb.generate.musicgen.quantize import compare_logits, quantize_decoder
    from vmb.testing import make_tone
    from vmb.types import Bridges, Clip, Hit, MusicDescription

    parser = argparse.ArgumentParser(description="vmb MusicGen generator vs model.generate")
    parser.add_argument("--seconds", type=float, default=5.0, help="audio to generate per method")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-int8", action="store_true")
    parser.add_argument(
        "--step-seconds", type=float, default=0.5, help="audio per single/dual step-cost run"
    )
    parser.add_argument("--step-repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    model = musicgen_small_random()
    tokenizer = t5_tokenizer()
    build_s = time.perf_counter() - started
    params = {
        name: sum(p.numel() for p in getattr(model, name).parameters())
        for name in ("text_encoder", "decoder", "audio_encoder")
    }
    baseline_rss = rss_bytes()
    print(
        f"built musicgen-small (random) in {build_s:.1f} s, {params}, RSS {baseline_rss / 2**30:.2f} GiB"
    )

    frames = round(args.seconds * 50)
    inputs = tokenizer([TEXT], return_tensors="pt")
    tmp = Path(tempfile.mkdtemp(prefix="bench-musicgen-"))
    tone = make_tone(tmp / "reference.wav", [261.63, 329.63, 392.0], seconds=10.0, sr=32000)
    clip = Clip("reference", str(tone), 0.0, 10.0, 32000)
    refs = (Hit(clip, 1.0, 0, "broad"), Hit(clip, 0.9, 0, "targeted"))
    bridges = Bridges(
        MusicDescription(text=TEXT), TEXT, references=refs, text_weight=3.0, music_weight=1.0
    )

    name = "musicgen-small-random"
    # (single guidance, dual with reference tokens only, dual with tokens and a ControlFormer)
    generators = {
        "fp32": (
            MusicGenGenerator(model, tokenizer, name),
            MusicGenGenerator(
                model, tokenizer, name, adapter=create_adapter(model, control_layers=0)
            ),
            MusicGenGenerator(
                model, tokenizer, name, adapter=create_adapter(model, control_layers=2)
            ),
        )
    }
    quality = None
    if not args.skip_int8:
        # A second copy with an int8 decoder, so that both precisions run interleaved.
        model_int8 = copy.deepcopy(model)
        adapter_int8 = create_adapter(model_int8, control_layers=2)
        note = quantize_decoder(model_int8, adapter_int8)
        generators["int8"] = (
            MusicGenGenerator(model_int8, tokenizer, name),
            MusicGenGenerator(
                model_int8, tokenizer, name, adapter=create_adapter(model_int8, control_layers=0)
            ),
            MusicGenGenerator(model_int8, tokenizer, name, adapter=adapter_int8),
        )
        # The same codes through both decoders (random codes suit a random-weight model).
        codes = torch.randint(
            0, 2048, (4, frames), generator=torch.Generator().manual_seed(args.seed)
        )
        seq = delayed(codes, pad=2048)
        quality = {
            "method": "conditional logits of the same teacher-forced codes, fp32 vs int8, same weights",
            "positions": int(seq.shape[1]),
            "note": note,
            **compare_logits(
                teacher_forced_logits(model, tokenizer, seq),
                teacher_forced_logits(model_int8, tokenizer, seq),
            ),
        }
        print(f"int8 quality: {quality}", flush=True)
    models_rss = rss_bytes()

    def plain(musicgen):
        def run():
            torch.manual_seed(args.seed)
            with torch.inference_mode():
                out = musicgen.generate(
                    **inputs,
                    do_sample=True,
                    guidance_scale=3.0,
                    top_k=250,
                    max_new_tokens=frames + 3,
                )
            return {"audio": out[0].numpy()}

        return run

    def ours(generator, music_weight):
        def run():
            result = generator.generate(
                bridges, args.seconds, seed=args.seed, music_weight=music_weight
            )
            return {
                "audio": result.audio,
                "timings": result.timings,
                "step_s": result.timings["sampling"] / (frames + 3),
                "notes": list(result.notes),
            }

        return run

    methods = {}
    for precision, (single, _, _) in generators.items():
        methods[f"plain_{precision}"] = plain(single.model)
        methods[f"vmb_{precision}"] = ours(single, 0.0)
    for precision, (_, _, dual) in generators.items():
        methods[f"vmb_{precision}_dual"] = ours(dual, 1.0)

    results: dict = {}
    for _ in range(args.repeats):
        for method, fn in methods.items():
            with peak_rss() as rss:
                start = time.perf_counter()
                out = fn()
                wall = time.perf_counter() - start
            entry = results.setdefault(method, {"wall_s": [], "peak_rss_gib": []})
            entry["wall_s"].append(wall)
            entry["peak_rss_gib"].append(rss["peak"] / 2**30)
            entry["peak_rss_over_models_gib"] = (rss["peak"] - models_rss) / 2**30
            entry["_last"] = out
            print(f"{method:>14}: {wall:7.2f} s for {args.seconds:g} s of audio", flush=True)

    # Single vs dual guidance per decoding step: short runs, interleaved, minimum kept.
    steps: dict = {}
    for _ in range(args.step_repeats):
        for precision, (single, tokens, dual) in generators.items():
            for kind, generator, music_weight in (
                ("single", single, 0.0),
                ("dual_tokens", tokens, 1.0),
                ("dual", dual, 1.0),
            ):
                result = generator.generate(
                    bridges, args.step_seconds, seed=args.seed, music_weight=music_weight
                )
                key = f"vmb_{precision}_{kind}_s_per_step"
                steps.setdefault(key, []).append(
                    result.timings["sampling"] / (round(args.step_seconds * 50) + 3)
                )
    if steps:
        print({k: round(min(v), 4) for k, v in steps.items()}, flush=True)
    identical = bool(
        np.array_equal(
            results["plain_fp32"]["_last"]["audio"][:, : round(args.seconds * 32000)],
            results["vmb_fp32"]["_last"]["audio"],
        )
    )

    report: dict = {
        "benchmark": "bench_musicgen",
        "command": "python -m benchmarks.bench_musicgen " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": _commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "vmb_path": str(Path(vmb.__file__).resolve().parent),
        "model": "facebook/musicgen-small architecture, random weights",
        "parameters": params,
        "seconds_of_audio": args.seconds,
        "decoding_steps": frames + 3,
        "settings": {
            "guidance": 3.0,
            "top_k": 250,
            "do_sample": True,
            "seed": args.seed,
            "dual": "music_weight 1, untrained adapter: reference tokens + 2-block ControlFormer",
        },
        "torch_threads": torch.get_num_threads(),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "loadavg_at_end": os.getloadavg(),
        },
        "torch": torch.__version__,
        "build_model_s": build_s,
        "rss_one_fp32_model_gib": baseline_rss / 2**30,
        "rss_models_gib": models_rss / 2**30,
        "process_max_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "vmb_fp32_identical_to_plain": identical,
        "int8_quality": quality,
        "methods": {},
        "ratios": {},
    }
    for name, entry in results.items():
        last = entry.pop("_last")
        wall = min(entry["wall_s"])
        report["methods"][name] = {
            "wall_s_min": wall,
            "wall_s_all": entry["wall_s"],
            "s_per_generated_s": wall / args.seconds,
            "peak_rss_gib": max(entry["peak_rss_gib"]),
            "peak_rss_over_models_gib": entry["peak_rss_over_models_gib"],
        }
        if "timings" in last:
            report["methods"][name]["timings"] = last["timings"]
            report["methods"][name]["sampling_s_per_step"] = last["step_s"]
    methods = report["methods"]

    def ratio(a: str, b: str, key: str = "wall_s_min") -> float | None:
        if a in methods and b in methods:
            return methods[a][key] / methods[b][key]
        return None

    report["ratios"] = {
        "speedup_vmb_int8_vs_plain_fp32": ratio("plain_fp32", "vmb_int8"),
        "speedup_vmb_fp32_vs_plain_fp32": ratio("plain_fp32", "vmb_fp32"),
        "speedup_vmb_int8_vs_plain_int8": ratio("plain_int8", "vmb_int8"),
    }
    report["step_cost"] = {
        "method": f"{args.step_repeats} interleaved rounds of single/dual guidance runs of "
        f"{args.step_seconds:g} s; sampling-loop seconds per decoding step, minimum",
        **{k: min(v) for k, v in steps.items() if v},
        "all": steps,
    }
    for precision in generators if steps else ():
        single_step = min(steps[f"vmb_{precision}_single_s_per_step"])
        for kind in ("dual", "dual_tokens"):
            report["ratios"][f"{kind}_vs_single_step_cost_{precision}"] = (
                min(steps[f"vmb_{precision}_{kind}_s_per_step"]) / single_step
            )
    write_result(args.out, report, argv)
    print(json.dumps(report["ratios"], indent=2))
    return report


if __name__ == "__main__":
    main()
