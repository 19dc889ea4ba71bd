"""Tiny training data of the training tests (imported as ``train.train_data``).

Eight one-second clips of synthetic music (chords of harmonic tones from
``vmb.analysis.reference_signals``; with drums for the fast ones), each its own track, with a
caption, written as FLAC files next to a JSONL manifest; and music videos for ``vmb data pairs``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SR = 32000
CLIP_S = 1.0

# (name, midi chord, bpm, caption, tags)
CLIPS = [
    ("calm_piano", (60, 64, 67), 70, "A calm ambient piece with soft piano and warm pads, slow tempo, in C major.",
     {"genre": "ambient", "mood": "calm", "instruments": "piano"}),
    ("dance", (57, 60, 64), 128, "Energetic electronic dance music with driving drums and a fast-paced tempo.",
     {"genre": "electronic", "mood": "energetic", "instruments": "drums"}),
    ("cinematic", (50, 53, 57), 90, "A dark cinematic score with strings, brass and choir, tense and epic.",
     {"genre": "cinematic", "mood": "dark", "instruments": "strings"}),
    ("folk", (55, 59, 62), 100, "Gentle acoustic folk with guitar and harp, peaceful and dreamy, medium tempo.",
     {"genre": "folk", "mood": "peaceful", "instruments": "acoustic guitar"}),
    ("soul", (57, 60, 64, 67), 96, "Funky soul groove with electric piano, bass guitar and saxophone in A minor.",
     {"genre": "funk/soul", "mood": "groovy", "instruments": "saxophone"}),
    ("ballad", (62, 65, 69), 66, "Sad emotional ballad with cello and piano, melancholic mood with slow tempo.",
     {"genre": "classical", "mood": "sad", "instruments": "cello"}),
    ("jazz", (65, 69, 72, 76), 140, "Playful jazz with walking bass, brushed drums and vibraphone, fun and upbeat.",
     {"genre": "jazz", "mood": "fun", "instruments": "vibraphone"}),
    ("pop", (67, 71, 74), 120, "An uplifting and catchy pop track, blending bass, synthesizer, drums.",
     {"genre": "pop", "mood": "happy", "instruments": "synthesizer"}),
]  # fmt: skip


def render_clip(chord, bpm: float, seconds: float = CLIP_S, sr: int = SR) -> np.ndarray:
    """Mono ``[T]`` float32: the chord, with a click track for tempi from 110 BPM."""
    from vmb.analysis.reference_signals import chord_tone, click_track

    audio = chord_tone(list(chord), seconds, sr)
    if bpm >= 110:
        audio = audio + 0.5 * click_track(bpm, seconds, sr)[: audio.shape[-1]]
    audio = audio / max(1e-6, float(np.max(np.abs(audio)))) * 0.5
    return audio.astype(np.float32)


def write_clips(folder: Path, count: int = 8) -> Path:
    """Write ``count`` clips and ``manifest.jsonl``; returns the manifest."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, chord, bpm, caption, tags in CLIPS[:count]:
        sf.write(str(folder / f"{name}.flac"), render_clip(chord, bpm), SR)
        rows.append({"path": f"{name}.flac", "caption": caption, "tempo_bpm": bpm, **tags})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def write_videos(folder: Path, count: int = 3, seconds: float = 1.5, metadata: bool = True) -> Path:
    """``count`` small music videos (moving pictures + a chord) and a ``metadata.csv`` with tags
    for the first ones; returns the folder."""
    from vmb.testing import make_video

    folder.mkdir(parents=True, exist_ok=True)
    colours = [(200, 40, 40), (40, 60, 200), (30, 160, 60), (220, 200, 40)]
    lines = ["file_name,genre,mood,instruments,theme"]
    for i, (name, chord, _bpm, _caption, tags) in enumerate(CLIPS[:count]):
        from vmb.analysis.reference_signals import midi_to_hz

        make_video(folder / f"{name}.mp4", seconds=seconds, fps=12, size=(96, 64), colour=colours[i % 4],
                   audio_freqs=[midi_to_hz(n) for n in chord], audio_sr=32000)  # fmt: skip
        if i < 2:
            lines.append(f"{name}.mp4,{tags['genre']},{tags['mood']},{tags['instruments']},night city")
    if metadata:
        (folder / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def widen_output_heads(path: Path, seed: int = 0, head_std: float = 0.5) -> Path:
    """Give the tiny random MusicGen in ``path`` output heads with a trained model's range, in place.

    Random heads of std 0.02 (transformers' initialisation) on a 32-wide decoder give logits
    within about ±0.6 whatever the hidden states: no frozen-base adapter could make such a model
    confident, so the heads are redrawn with std ``head_std``. Everything else stays random.
    """
    import torch
    from transformers import (
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    config = json.loads((Path(path) / "config.json").read_text())
    melody = config["model_type"] == "musicgen_melody"
    model = (MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration).from_pretrained(path)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for head in model.decoder.lm_heads:
            head.weight.normal_(0.0, head_std, generator=generator)
    model.save_pretrained(path)
    return Path(path)
