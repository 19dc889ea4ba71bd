"""Attributes of an indexed clip: measured (tempo, key, loudness, energy), given (manifest
tags), or tagged zero-shot with CLAP; and the caption written from them.

Precedence for each attribute: the source's value (manifest / dataset column) first, then the
measurement (tempo, key, mode, energy, loudness) or, for genre / mood / instruments, CLAP
zero-shot tags when the index is built with CLAP (as the VMB paper tagged its data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmb.retrieve.sources import SourceTrack
from vmb.types import ClipAttributes
from vmb.vocab import Vocab

ZERO_SHOT_TOP = {"genre": 1, "mood": 2, "instrument": 3}


@dataclass(frozen=True)
class Measured:
    """What :func:`measure_clip` measures on one clip."""

    tempo_bpm: float | None
    key: str | None
    mode: str | None
    energy: float
    loudness_db: float


def measure_clip(audio: np.ndarray, sr: int) -> Measured:
    """Tempo (beat tracking), key and mode (chroma key profiles), energy and loudness of a clip
    ``[C, T]``. A clip without a detectable beat has ``tempo_bpm=None``."""
    from vmb import analysis

    tempo = analysis.estimate_tempo(audio, sr)
    key = analysis.estimate_key(audio, sr)
    level = analysis.loudness_db(audio)
    silent = level <= -80.0
    return Measured(
        tempo_bpm=round(float(tempo.bpm), 2) if tempo.bpm > 0 else None,
        key=None if silent else key.key,
        mode=None if silent else key.mode,
        energy=round(float(analysis.energy(audio, sr)), 4),
        loudness_db=round(float(level), 2),
    )


def clip_attributes(
    measured: Measured, track: SourceTrack, vocab: Vocab, tags: dict | None = None
) -> ClipAttributes:
    """Merge the source's tags, the zero-shot ``tags`` (``{"genre", "mood", "instruments"}``)
    and the measurements (see the module docstring for the precedence)."""
    tags = tags or {}
    tempo = track.tempo_bpm if track.tempo_bpm is not None else measured.tempo_bpm
    key, mode = (track.key_name, track.mode) if track.key_name else (measured.key, measured.mode)
    if track.key_name and track.mode is None:
        mode = measured.mode
    return ClipAttributes(
        tempo_bpm=tempo,
        tempo_class=vocab.tempo_class(tempo) if tempo else None,
        key=key,
        mode=mode,
        genre=track.genre or tags.get("genre"),
        mood=track.mood or tuple(tags.get("mood", ())),
        instruments=track.instruments or tuple(tags.get("instruments", ())),
        energy=measured.energy,
        loudness_db=measured.loudness_db,
    )


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def energy_word(energy: float | None) -> str | None:
    if energy is None:
        return None
    return "low" if energy < 0.33 else "moderate" if energy < 0.66 else "high"


def caption_from_attributes(a: ClipAttributes) -> str:
    """One sentence from the attributes, e.g. "A fast-paced, energetic jazz track featuring
    piano and drums, in D minor at about 132 BPM, with high energy."."""
    lead = []
    if a.tempo_class:
        lead.append(f"{a.tempo_class}-paced")
    lead.extend(a.mood)
    head = ", ".join(lead)
    noun = f"{a.genre} track" if a.genre else "piece of music"
    text = f"{head} {noun}" if head else noun
    text = ("An " if text[0] in "aeiou" else "A ") + text
    if a.instruments:
        text += f" featuring {_join(a.instruments)}"
    where = []
    if a.key:
        where.append(f"in {a.key} {a.mode}" if a.mode else f"in the key of {a.key}")
    if a.tempo_bpm:
        where.append(f"at about {round(a.tempo_bpm)} BPM")
    if where:
        text += ", " + " ".join(where)
    word = energy_word(a.energy)
    if word:
        text += f", with {word} energy"
    return text + "."


def zero_shot_prompts(vocab: Vocab) -> dict[str, tuple[list[str], list[str]]]:
    """``{kind: (names, prompts)}`` for genre, mood and instrument."""
    templates = {
        "genre": "This is {} music.",
        "mood": "This music sounds {}.",
        "instrument": "This music features {}.",
    }
    out = {}
    for kind, template in templates.items():
        names = list(vocab.table(kind))
        out[kind] = (names, [template.format(n) for n in names])
    return out


class ZeroShotTagger:
    """Genre (top 1), moods (top 2) and instruments (top 3) of clips by the cosine similarity of
    their CLAP audio embeddings to CLAP text embeddings of vocabulary prompts."""

    def __init__(self, encoder, vocab: Vocab):
        self.labels: dict[str, tuple[list[str], np.ndarray]] = {}
        for kind, (names, prompts) in zero_shot_prompts(vocab).items():
            self.labels[kind] = (names, encoder.embed_text(prompts))

    def tags(self, audio_vectors: np.ndarray) -> list[dict]:
        """One ``{"genre", "mood", "instruments"}`` per row of ``audio_vectors`` ``[N, D]``."""
        out: list[dict] = [{} for _ in range(len(audio_vectors))]
        for kind, (names, text_vectors) in self.labels.items():
            scores = audio_vectors @ text_vectors.T
            order = np.argsort(-scores, axis=1, kind="stable")[:, : ZERO_SHOT_TOP[kind]]
            for i, row in enumerate(order):
                chosen = [names[j] for j in row]
                if kind == "genre":
                    out[i]["genre"] = chosen[0]
                elif kind == "mood":
                    out[i]["mood"] = tuple(chosen)
                else:
                    out[i]["instruments"] = tuple(chosen)
        return out
