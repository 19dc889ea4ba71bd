# One-off: old tree (git worktree add /tmp/mg-old 73d3058) vs this tree, one process. Usage in the docstring.
"""Old (73d3058) vs new MusicGen loop in ONE process on the same model, interleaved.

The old generator module is loaded from the old checkout (/tmp/mg-old) with its own adapters
module; guidance/longform/chroma are byte-identical in both trees and shared. Each round runs
old single, new single, old dual, new dual (same bridges, seed, duration); minimum kept."""
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_musicgen import TEXT, musicgen_small_random, t5_tokenizer
from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen import chroma, guidance, longform
from vmb.generate.musicgen.adapters import create_adapter
from vmb.testing import make_tone
from vmb.types import Bridges, Clip, Hit, MusicDescription

OLD = "/tmp/mg-old"
sys.modules["vmb.generate.guidance"] = guidance
sys.modules["vmb.generate.longform"] = longform
sys.modules["vmb.generate.chroma"] = chroma


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


old_adapters = load("vmb.generate.adapters", f"{OLD}/vmb/generate/adapters.py")
old_mg = load("old_musicgen", f"{OLD}/vmb/generate/musicgen.py")

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
model = musicgen_small_random()
tok = t5_tokenizer()
tone = make_tone("/tmp/bench/ref.wav", [261.63, 329.63, 392.0], seconds=10.0, sr=32000)
clip = Clip("reference", str(tone), 0.0, 10.0, 32000)
refs = (Hit(clip, 1.0, 0, "broad"), Hit(clip, 0.9, 0, "targeted"))
bridges = Bridges(MusicDescription(text=TEXT), TEXT, references=refs, text_weight=3.0, music_weight=1.0)
torch.manual_seed(0)
gens = {
    "old_single": (old_mg.MusicGenGenerator(model, tok, "m"), 0.0),
    "new_single": (MusicGenGenerator(model, tok, "m"), 0.0),
    "old_dual": (old_mg.MusicGenGenerator(model, tok, "m", adapter=old_adapters.create_adapter(model, control_layers=2)), 1.0),
    "new_dual": (MusicGenGenerator(model, tok, "m", adapter=create_adapter(model, control_layers=2)), 1.0),
}
times = {k: [] for k in gens}
sampling = {k: [] for k in gens}
audio = {}
for r in range(rounds):
    for name, (g, w) in gens.items():
        t = time.perf_counter()
        res = g.generate(bridges, seconds, seed=0, music_weight=w)
        times[name].append(time.perf_counter() - t)
        sampling[name].append(res.timings["sampling"])
        audio[name] = res.audio
        print(name, round(times[name][-1], 2), flush=True)
steps = round(seconds * 50) + 3
out = {
    "benchmark": "old vs new MusicGen loop, one process, same model (musicgen-small architecture, random weights), interleaved",
    "command": f"PYTHONPATH=<new tree> python /tmp/bench/oldnew.py {seconds:g} {rounds} {threads} (old generator loaded from {OLD})",
    "old_commit": "73d3058",
    "new_commit": subprocess.run(["git", "-C", "/work/wt/musicgen", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip(),
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "loadavg_at_end": os.getloadavg(),
                "note": "2 cores shared with other engineers' test runs (load 8-15 during the run)"},
    "torch_threads": threads, "seconds_of_audio": seconds, "decoding_steps": steps, "rounds": rounds,
    "wall_s": {k: v for k, v in times.items()},
    "sampling_s_per_step_min": {k: min(v) / steps for k, v in sampling.items()},
    "new_over_old_sampling_time": {
        "single": min(sampling["new_single"]) / min(sampling["old_single"]),
        "dual": min(sampling["new_dual"]) / min(sampling["old_dual"]),
    },
    "new_over_old_wall": {
        "single": min(times["new_single"]) / min(times["old_single"]),
        "dual": min(times["new_dual"]) / min(times["old_dual"]),
    },
    "identical_audio": {
        "single": bool(np.array_equal(audio["old_single"], audio["new_single"])),
        "dual": bool(np.array_equal(audio["old_dual"], audio["new_dual"])),
    },
}
Path(sys.argv[4] if len(sys.argv) > 4 else "/tmp/bench/oldnew.json").write_text(json.dumps(out, indent=2))
print(json.dumps({k: out[k] for k in ("sampling_s_per_step_min", "new_over_old_sampling_time", "new_over_old_wall", "identical_audio")}, indent=2))
