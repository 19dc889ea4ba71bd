"""Stages import only downward (docs/ARCHITECTURE.md): media/analysis below describe/retrieve,
those below generate, then train, then the assembly (pipeline, components, library, outputs),
then the engines that run them (vmb.engines), then the CLI. Every import in vmb/, function-local ones included, is read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import vmb

ROOT = Path(vmb.__file__).resolve().parent

# Lower numbers sit lower; siblings of one layer must not import each other.
LAYERS = {
    "types": 0, "errors": 0, "config": 0, "limits": 0, "vocab": 0, "hub": 0, "fileio": 0,
    "manifest": 0, "home": 0, "lazy": 0, "signatures": 0, "feature_names": 0,
    "convert": 5,  # checkpoints of audiocraft and laion-clap → transformers folders (vmb models import)
    "media": 1, "analysis": 1,
    "describe": 2, "retrieve": 2, "testing": 2,  # test media made with media's encoders
    "generate": 3,
    "train": 4,
    "library": 5, "components": 5, "outputs": 5, "models": 5, "pipeline": 6, "doctor": 6,
    "eval": 7,  # `vmb eval run` generates through the pipeline
    "engines": 7,  # runs pipelines and index builds in one process or on Ray
    "cli": 8, "ui": 8,
}  # fmt: skip
# Allowed within one layer besides the base modules (layer 0), which use each other.
SIDEWAYS = {("analysis", "media"), ("media", "analysis"), ("components", "library"), ("cli", "ui")}


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "vmb" and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "vmb")
    return found


def test_every_top_level_module_has_a_layer():
    names = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}  # fmt: skip
    assert names - set(LAYERS) == set()


def test_stages_import_only_downward():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue  # vmb/__init__.py re-exports lazily
        here = rel.parts[0].removesuffix(".py")
        for module in _imports(path):
            there = _part(module)
            if there is None or there == here or there not in LAYERS:
                continue
            sideways_ok = LAYERS[here] == 0 or (here, there) in SIDEWAYS  # base modules share freely
            if LAYERS[there] > LAYERS[here] or (LAYERS[there] == LAYERS[here] and not sideways_ok):
                wrong.append(f"{rel} imports {module}")
    assert wrong == []
