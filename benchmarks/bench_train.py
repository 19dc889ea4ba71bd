"""Training throughput and memory of the music-bridge adapter against plain transformers calls.

The model is the full-size ``facebook/musicgen-small`` architecture with random weights (speed
does not depend on the values; built by ``benchmarks.bench_musicgen.musicgen_small_random``).
Each step trains on a batch of ``--batch-size`` clips of ``--seconds`` seconds: random target
codes in the delay pattern, a caption through T5, a random reference (codes and embedding).
Measured in one run, the methods interleaved over ``--steps`` rounds after one warm-up step:

- ``vmb_tokens`` / ``vmb_controlformer`` / ``vmb_both``: one step of ``vmb train adapter``
  (:class:`vmb.train.adapter.AdapterObjective` forward with the adapter active, cross-entropy
  over the codebooks, backward, gradient clipping, AdamW on the adapter's parameters only);
  ``controlformer`` copies ``--control-layers`` blocks (the adapter default, 2);
- ``plain_forward``: the plain library call ``model(input_ids, attention_mask,
  decoder_input_ids)`` and the same cross-entropy, without gradients (a lower bound: the step's
  forward alone);
- ``plain_finetune``: the same plain call with backward and AdamW on every decoder parameter
  (what fine-tuning MusicGen itself costs); skipped when less than ``--finetune-min-gib`` of
  memory is available (it holds ~4x the decoder's 1.7 GB in gradients and optimizer state).

Checked: the vmb loss with a fresh (zero-initialised) adapter equals the plain call's loss on
the same batch (``loss_matches_plain``: the adapter path computes the same thing until trained).

Reported per method: seconds per step (minimum and median over the timed rounds), target
tokens per second (from the minimum), the memory the method needs (``memory_rise_gib``: the
peak RSS during its first step over the RSS just before it, after ``gc`` and ``malloc_trim``:
activations, gradients and the optimizer state it creates; state kept by methods measured
earlier is in their rise, not in later ones'), trainable parameters and their share of the
whole model; ratios of step time and memory against ``plain_finetune`` and ``plain_forward``.

    python -m benchmarks.bench_train [--seconds 0.5] [--batch-size 2] [--steps 1] [--threads N]

The defaults are reduced (0.5 s clips, one timed round) so that the run stays near 5 minutes on
the shared 2-core development machine (one round of the five methods took ~4 min there under
the load of several engineers' jobs); ``--steps 3`` gives steadier numbers, real training uses
10-30 s clips (``--seconds``).

Writes ``benchmarks/results/train.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from benchmarks.common import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "train.json"


def release_memory() -> int:
    """Collect garbage and hand freed heap pages back to the OS; returns the RSS after."""
    import ctypes
    import gc

    from benchmarks.bench_musicgen import rss_bytes

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss_bytes()


def mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def make_examples(model, count: int, frames: int, seed: int):
    """Random clips: target and reference codes ``[K, frames]``, an EnCodec-sized embedding."""
    import torch

    from benchmarks.bench_musicgen import TEXT
    from vmb.train.music_examples import MusicExample

    generator = torch.Generator().manual_seed(seed)
    K, V = model.config.decoder.num_codebooks, model.config.decoder.vocab_size
    dim = model.config.audio_encoder.codebook_dim
    return [
        MusicExample(
            track=f"t{i}", start_s=0.0, caption=TEXT, caption_source="given", reference=f"r{i}", reference_track=f"r{i}",
            target=torch.randint(0, V, (K, frames), generator=generator),
            ref_codes=torch.randint(0, V, (K, frames), generator=generator),
            ref_embedding=torch.randn(dim, generator=generator),
        )
        for i in range(count)
    ]  # fmt: skip


class VmbStep:
    """One ``vmb train adapter`` step (forward, loss, backward, clip, AdamW) for a mechanism."""

    def __init__(self, generator, examples, mechanism: str, control_layers: int):
        import torch

        from vmb.generate.musicgen.adapters import create_adapter
        from vmb.train.adapter import AdapterObjective

        kwargs = {"reference_tokens": mechanism in ("tokens", "both"),
                  "control_layers": 0 if mechanism == "tokens" else control_layers}  # fmt: skip
        self.adapter = create_adapter(generator.model, **kwargs).train()
        self.parameters = list(self.adapter.parameters())
        self.optimizer = torch.optim.AdamW(self.parameters, lr=1e-4)
        self.objective = AdapterObjective(generator, self.adapter)
        self.examples = examples

    def __call__(self) -> tuple[float, int]:
        import torch

        self.optimizer.zero_grad(set_to_none=True)
        out = self.objective.step(self.examples)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
        self.optimizer.step()
        return float(out.loss.detach()), out.tokens

    def release(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.optimizer.state.clear()


class PlainStep:
    """The plain transformers call on the same batch; ``train`` adds backward + AdamW on the decoder."""

    def __init__(self, generator, examples, train: bool):
        import torch

        from vmb.generate.musicgen.pattern import CodebookPattern

        model = generator.model
        self.model, self.train = model, train
        ids, self.labels = CodebookPattern.of(model).teacher_forcing([e.target for e in examples])
        self.decoder_ids = ids.reshape(-1, ids.shape[-1])  # [B * K, L]
        self.text = generator.tokenizer([e.caption for e in examples], return_tensors="pt", padding=True)
        self.parameters = list(model.decoder.parameters()) if train else []
        self.optimizer = torch.optim.AdamW(self.parameters, lr=1e-5) if train else None

    def loss(self):
        import torch

        logits = self.model(**self.text, decoder_input_ids=self.decoder_ids).logits  # [B * K, L, V]
        logits = logits.reshape(*self.labels.shape, -1)
        return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                                 self.labels.reshape(-1), ignore_index=-100)  # fmt: skip

    def __call__(self) -> tuple[float, int]:
        import torch

        tokens = int((self.labels != -100).sum())
        if not self.train:
            with torch.no_grad():
                return float(self.loss()), tokens
        self.model.decoder.requires_grad_(True)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
        self.optimizer.step()
        self.model.decoder.requires_grad_(False)
        return float(loss), tokens


def main(argv: list[str] | None = None) -> dict:
    import torch
    from transformers.utils import logging as transformers_logging

    from benchmarks.bench_musicgen import PeakRss, musicgen_small_random, rss_bytes, t5_tokenizer
    from vmb.generate import MusicGenGenerator

    parser = argparse.ArgumentParser(description="adapter training vs plain transformers steps")
    parser.add_argument("--seconds", type=float, default=0.5, help="seconds of audio per clip")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1, help="timed rounds (after one warm-up round)")
    parser.add_argument("--control-layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--finetune-min-gib", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    model = musicgen_small_random().requires_grad_(False)
    generator = MusicGenGenerator(model, t5_tokenizer(), "musicgen-small-random")
    build_s = time.perf_counter() - started
    total_params = sum(p.numel() for p in model.parameters())
    decoder_params = sum(p.numel() for p in model.decoder.parameters())
    frames = round(args.seconds * 50)
    examples = make_examples(model, args.batch_size, frames, args.seed)
    baseline_rss = rss_bytes()
    print(f"built musicgen-small (random) in {build_s:.1f} s: {total_params / 1e6:.0f} M parameters, "
          f"RSS {baseline_rss / 2**30:.2f} GiB; batch {args.batch_size} x {args.seconds:g} s")  # fmt: skip

    torch.manual_seed(args.seed)
    methods: dict[str, object] = {"plain_forward": PlainStep(generator, examples, train=False)}
    for mechanism in ("tokens", "controlformer", "both"):
        methods[f"vmb_{mechanism}"] = VmbStep(generator, examples, mechanism, args.control_layers)

    # The adapter path computes the plain model's loss until the adapter is trained.
    with torch.no_grad():
        fresh = methods["vmb_both"].objective
        vmb_loss = float(fresh.loss_sum(fresh.batch(examples))[0]) / methods["plain_forward"].labels.ne(-100).sum().item()
        plain_loss = float(methods["plain_forward"].loss())
    loss_matches = abs(vmb_loss - plain_loss) <= 1e-4 * max(1.0, abs(plain_loss))
    print(f"loss with a fresh adapter {vmb_loss:.6f} vs plain {plain_loss:.6f}: {'equal' if loss_matches else 'DIFFERENT'}")

    available = mem_available_gib()
    finetune_note = None
    if available >= args.finetune_min_gib:
        methods["plain_finetune"] = PlainStep(generator, examples, train=True)
    else:
        finetune_note = f"plain_finetune skipped: {available:.1f} GiB available < --finetune-min-gib {args.finetune_min_gib:g}"
        print(finetune_note)

    seconds: dict[str, list[float]] = {name: [] for name in methods}
    rises: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for round_ in range(args.steps + 1):
        for name, step in methods.items():
            if round_ == 0:  # warm-up; its RSS rise is the method's memory (see memory_rise)
                before = release_memory()
                with PeakRss() as peak:
                    _, tokens[name] = step()
                rises[name] = peak.peak - before
                continue
            t0 = time.perf_counter()
            _, tokens[name] = step()
            seconds[name].append(time.perf_counter() - t0)
        print(f"round {round_}: " + ", ".join(
            f"{n} {seconds[n][-1]:.2f} s" if seconds[n] else f"{n} +{rises[n] / 2**30:.2f} GiB" for n in methods))

    results: dict[str, dict] = {}
    for name, step in methods.items():
        trainable = sum(p.numel() for p in step.parameters)
        best = min(seconds[name])
        results[name] = {
            "seconds_per_step_min": best,
            "seconds_per_step_median": statistics.median(seconds[name]),
            "target_tokens_per_step": tokens[name],
            "target_tokens_per_second": tokens[name] / best,
            "memory_rise_gib": rises[name] / 2**30,
            "trainable_parameters": trainable,
            "trainable_share_of_model": trainable / (total_params + (trainable if name.startswith("vmb") else 0)),
        }
    ratios = {}
    for name in ("vmb_tokens", "vmb_controlformer", "vmb_both"):
        ratios[f"{name}_step_over_plain_forward"] = results[name]["seconds_per_step_min"] / results["plain_forward"]["seconds_per_step_min"]
        if "plain_finetune" in results:
            ratios[f"plain_finetune_step_over_{name}"] = results["plain_finetune"]["seconds_per_step_min"] / results[name]["seconds_per_step_min"]
            ratios[f"plain_finetune_memory_over_{name}"] = results["plain_finetune"]["memory_rise_gib"] / max(
                1e-9, results[name]["memory_rise_gib"])  # fmt: skip

    report = {
        "benchmark": "train",
        "model": "facebook/musicgen-small architecture, random weights",
        "parameters": {"total": total_params, "decoder": decoder_params},
        "settings": {"seconds": args.seconds, "frames": frames, "batch_size": args.batch_size, "steps": args.steps,
                     "control_layers": args.control_layers, "threads": torch.get_num_threads(), "precision": "fp32"},
        "build_seconds": build_s,
        "baseline_rss_gib": baseline_rss / 2**30,
        "loss_matches_plain": loss_matches,
        "fresh_adapter_loss": vmb_loss,
        "plain_loss": plain_loss,
        "methods": results,
        "ratios": ratios,
        "notes": [n for n in (finetune_note,) if n],
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": __import__("os").cpu_count(),
                    "torch": torch.__version__},
    }  # fmt: skip
    write_result(args.out, report, argv)
    for name, r in results.items():
        print(f"{name:18s} {r['seconds_per_step_min']:7.2f} s/step  {r['target_tokens_per_second']:8.1f} tokens/s  "
              f"memory +{r['memory_rise_gib']:.2f} GiB  "
              f"trains {r['trainable_parameters'] / 1e6:.1f} M ({100 * r['trainable_share_of_model']:.2f} %)")  # fmt: skip
    print(json.dumps(ratios, indent=2))
    return report


if __name__ == "__main__":
    main()
