"""Converting checkpoints of the design card's packages to the transformers folders vmb loads.

vmb runs MusicGen and CLAP through transformers (audiocraft and laion-clap cannot be installed
beside this torch; see the README). Their users' checkpoints still work here:

* ``vmb models import audiocraft PATH`` — an audiocraft MusicGen export (``state_dict.bin`` +
  ``compression_state_dict.bin``) → ``MusicgenForConditionalGeneration`` (:mod:`.audiocraft`);
* ``vmb models import laion-clap PATH`` — a laion-clap checkpoint (HTSAT audio, RoBERTa text)
  → ``ClapModel`` (:mod:`.laion_clap`).

Checkpoints are read with ``torch.load(..., weights_only=True)``; everything is checked before
the folder is written (atomically, never over an existing folder).

```python
from vmb.convert import convert

result = convert("audiocraft", "my_finetune/", "my_finetune-hf", base="facebook/musicgen-small")
```
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vmb.convert.audiocraft import ImportResult
from vmb.convert.checkpoint import CheckpointError

KINDS = ("audiocraft", "laion-clap")


def default_out(kind: str, path: str | os.PathLike) -> Path:
    """``<data home>/models/<kind>-<name of the checkpoint>``."""
    from vmb.home import data_home

    source = Path(path).expanduser()
    stem = source.name if source.is_dir() or source.suffix == "" else source.stem
    if stem in ("state_dict", "") and source.parent.name:
        stem = source.parent.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "checkpoint"
    return data_home() / "models" / f"{kind}-{slug}"


def convert(kind: str, path: str | os.PathLike, out: str | os.PathLike, base: str | None = None) -> ImportResult:
    """Convert the checkpoint at ``path`` (``kind`` one of :data:`KINDS`) into ``out``."""
    if kind == "audiocraft":
        from vmb.convert.audiocraft import DEFAULT_BASE, convert_audiocraft

        return convert_audiocraft(path, out, base=base or DEFAULT_BASE)
    if kind == "laion-clap":
        from vmb.convert.laion_clap import DEFAULT_BASE as CLAP_BASE
        from vmb.convert.laion_clap import convert_laion_clap

        return convert_laion_clap(path, out, base=base or CLAP_BASE)
    from vmb.errors import UsageError

    raise UsageError(f"unknown checkpoint kind {kind!r} (one of: {', '.join(KINDS)})")


__all__ = ["KINDS", "CheckpointError", "ImportResult", "convert", "default_out"]
