"""int8 MusicGen: speed against plain fp32 ``generate`` and agreement with fp32, per layer choice.

The model is the full-size ``facebook/musicgen-small`` architecture with random weights
(``bench_musicgen.musicgen_small_random``). In one run, interleaved over ``--rounds`` rounds
(the minimum kept), by default as issue 13 measured it (3 s of music, 2 torch threads):

- ``plain_fp32``: transformers' ``model.generate`` (guidance 3, top-k 250, sampling);
- ``vmb_int8``: :class:`vmb.generate.MusicGenGenerator` on a decoder quantized by
  :func:`vmb.generate.musicgen.quantize.quantize_decoder` as shipped (``FLOAT16_LAYERS`` kept
  in float16, ``TWO_PASS_LAYERS`` with a second int8 pass for the activations);
- one ``vmb_int8_f16=<layers>[:two_pass=<layers>]`` variant per ``--variants`` entry
  ``F16[:TWO]`` (comma lists of layer names: ``F16`` the float16 layers, ``TWO`` the two-pass
  ones, ``none`` = no layer, ``all`` = every int8 kind; ``TWO`` left out = none).

For each int8 decoder, the agreement with fp32 on the same teacher-forced codes (top-1 code
agreement, cosine, KL of the conditional logits: ``quantize.compare_logits``) over
``--agreement-frames`` frames of random codes (4 codebooks each: 300 frames give 1,216
positions, a standard error of ~0.5 points at 97 %, reported as ``top1_standard_error``).
Issue 13's targets: top-1 agreement ≥ 95 % and ≥ 5× plain fp32 speed, in the same run.

    python -m benchmarks.bench_musicgen_int8 [--seconds 3] [--threads 2] [--rounds 3] \
        [--variants lm_heads,fc2,out_proj none:all]

Writes ``benchmarks/results/musicgen_int8_speed.json`` (``--out``: another file, e.g.
``musicgen_int8_1thread.json`` for ``--threads 1``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "musicgen_int8_speed.json"


LAYER_KINDS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "lm_heads")


def layer_list(text: str) -> tuple[str, ...]:
    """``a,b`` -> ``("a", "b")``; ``none`` -> ``()``; ``all`` -> every Linear kind."""
    if text == "all":
        return LAYER_KINDS
    return () if text == "none" else tuple(x for x in text.split(",") if x)


def quantized(model, layers: tuple[tuple[str, ...], tuple[str, ...]] | None):
    """A copy of ``model`` with its decoder quantized with ``(float16_layers, two_pass_layers)``
    (``None``: as shipped). Returns ``(model, note)``."""
    from vmb.generate.musicgen.quantize import quantize_decoder

    copy_ = copy.deepcopy(model)
    if layers is None:
        return copy_, quantize_decoder(copy_)
    float16, two_pass = layers
    return copy_, quantize_decoder(copy_, float16_layers=float16, two_pass_layers=two_pass)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of music per generation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--agreement-frames", type=int, default=300,
                        help="frames of teacher-forced codes the agreement is measured over")
    parser.add_argument("--variants", nargs="*", default=["lm_heads,fc2,out_proj", "none"],
                        help="F16[:TWO] layer choices to try besides the shipped ones (comma lists "
                             "of float16 and two-pass layers; 'none': no layer, 'all': every kind)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    import torch

    from benchmarks.bench_musicgen import (
        TEXT,
        delayed,
        musicgen_small_random,
        t5_tokenizer,
        teacher_forced_logits,
    )
    from vmb.generate import MusicGenGenerator
    from vmb.generate.musicgen.quantize import FLOAT16_LAYERS, TWO_PASS_LAYERS, compare_logits
    from vmb.types import Bridges, MusicDescription

    torch.set_num_threads(args.threads)
    model, tokenizer = musicgen_small_random(), t5_tokenizer()
    configs: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {"vmb_int8": None}
    for v in args.variants:
        float16, _, two_pass = v.partition(":")
        name = f"vmb_int8_f16={float16}" + (f":two_pass={two_pass}" if two_pass else "")
        configs[name] = (layer_list(float16), layer_list(two_pass or "none"))
    frames = round(args.seconds * 50)
    codes = torch.randint(0, 2048, (4, args.agreement_frames),
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
    seq = delayed(codes, pad=2048)
    reference = teacher_forced_logits(model, tokenizer, seq)
    decoders, quality = {}, {}
    for name, layers in configs.items():
        decoders[name], note = quantized(model, layers)
        float16, two_pass = (FLOAT16_LAYERS, TWO_PASS_LAYERS) if layers is None else layers
        logits = teacher_forced_logits(decoders[name], tokenizer, seq)
        agreement = compare_logits(reference, logits)
        top1, positions = agreement["top1_agreement"], reference.numel() // reference.shape[-1]
        quality[name] = {"float16_layers": list(float16), "two_pass_layers": list(two_pass),
                         "note": note, **agreement, "positions": positions,
                         "top1_standard_error": (top1 * (1 - top1) / positions) ** 0.5}
        print(f"{name}: {quality[name]}", flush=True)

    inputs = tokenizer([TEXT], return_tensors="pt")
    bridges = Bridges(MusicDescription(text=TEXT), TEXT, text_weight=3.0, music_weight=0.0)

    def plain():
        torch.manual_seed(0)
        with torch.inference_mode():
            model.generate(**inputs, do_sample=True, guidance_scale=3.0, top_k=250, max_new_tokens=frames + 3)

    runs = {"plain_fp32": plain}
    for name, decoder in decoders.items():
        generator = MusicGenGenerator(decoder, tokenizer, "musicgen-small-random")
        runs[name] = lambda g=generator: g.generate(bridges, args.seconds, seed=0)
    wall: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(args.rounds):
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            wall[name].append(time.perf_counter() - t)
            print(f"round {r}: {name} {wall[name][-1]:.2f} s", flush=True)
    plain_min = min(wall["plain_fp32"])
    report = {
        "benchmark": "musicgen_int8",
        "model": "facebook/musicgen-small architecture, random weights",
        "seconds_of_audio": args.seconds,
        "torch_threads": args.threads,
        "wall_s": wall,
        "speedup_vs_plain_fp32_min": {k: plain_min / min(v) for k, v in wall.items() if k != "plain_fp32"},
        "agreement": quality,
        "targets": {"top1_agreement": 0.95, "speedup_vs_plain_fp32": 5.0},
        "machine": {"load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    write_result(args.out, report, argv)
    print(json.dumps({k: report[k] for k in ("speedup_vs_plain_fp32_min",)}, indent=1))
    print(json.dumps({k: round(v["top1_agreement"], 4) for k, v in quality.items()}, indent=1))
    return report


if __name__ == "__main__":
    main()
