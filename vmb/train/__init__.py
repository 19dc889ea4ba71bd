"""Training: the music-bridge adapter of MusicGen and the description model (LoRA), and the
data preparation both read.

* :func:`vmb.train.data.make_pairs` — ``vmb data pairs``: music videos → a ``datasets`` dataset
  (frames, audio track, measured attributes, description targets);
* :func:`vmb.train.adapter.train_adapter` — ``vmb train adapter``;
* :func:`vmb.train.describer.train_describer` — ``vmb train describer``;
* :mod:`vmb.train.targets` — JSON description targets written from tags, BPM and key;
* :mod:`vmb.train.loop` — checkpoints with optimizer state, ``--resume``, held-out loss, progress;
* :mod:`vmb.train.teacher_forcing` — the generator's own decoder forward
  (:mod:`vmb.generate.musicgen.decoder`) with the adapter active, on whole sequences.

Heavy libraries (torch, transformers, peft, datasets) are imported inside the functions.
"""

from __future__ import annotations

from vmb.lazy import lazy_exports

_EXPORTS = {
    "make_pairs": "vmb.train.data",
    "load_pairs": "vmb.train.data",
    "AdapterTrainingArgs": "vmb.train.adapter",
    "train_adapter": "vmb.train.adapter",
    "DescriberTrainingArgs": "vmb.train.describer",
    "train_describer": "vmb.train.describer",
    "write_target": "vmb.train.targets",
    "target_json": "vmb.train.targets",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "AdapterTrainingArgs",
    "DescriberTrainingArgs",
    "load_pairs",
    "make_pairs",
    "target_json",
    "train_adapter",
    "train_describer",
    "write_target",
]
