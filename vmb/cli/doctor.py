"""``vmb doctor``: what this machine has for vmb and what each missing piece costs
(:func:`vmb.doctor.run_checks`)."""

from __future__ import annotations

import typer

from vmb.cli.app import JsonOpt, print_json, say


def doctor(as_json: JsonOpt = False) -> None:
    """What this machine has for vmb, and what each missing piece costs.

    Python, torch, CUDA/MPS, faiss-gpu, FluidSynth and a soundfont, the models, the demo library
    and the data home; for each missing piece, what it costs and how to get it.
    """
    from vmb.doctor import run_checks

    checks = run_checks()
    if as_json:
        print_json({"ok": all(c.ok for c in checks if c.required), "checks": [c.to_dict() for c in checks]})
        return
    for c in checks:
        mark = "ok" if c.ok else ("MISSING" if c.required else "missing")
        say(f"{mark:8s}{c.name}: {c.found}")
    for c in checks:
        if not c.ok:
            say(f"{c.name}: {c.cost}. Fix: {c.fix}.")


def register(app: typer.Typer) -> None:
    app.command()(doctor)
