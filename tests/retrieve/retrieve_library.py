"""The small music library of the music-bridge tests (imported as ``retrieve.retrieve_library``).

The tracks are synthetic arrangements (drums, bass, chord pad) from
``vmb.analysis.reference_signals`` with known tempo and harmony, 6 s each, cut into 3 s clips.
"""

from __future__ import annotations

import json
from pathlib import Path

SR = 22050
SEGMENT_S = 3.0

MAJOR = ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj"))
MINOR = ((9, "min"), (2, "min"), (4, "maj"), (9, "min"))

# name, bpm, progression, drums, manifest row
TRACKS = [
    (
        "violin_lament",
        66,
        MINOR,
        False,
        {
            "caption": "A mournful solo violin lament, slow and quiet",
            "genre": "classical",
            "mood": "sad",
            "instruments": "strings",
        },
    ),
    (
        "rock_anthem",
        150,
        MAJOR,
        True,
        {
            "caption": "A driving rock anthem with distorted electric guitar and pounding drums",
            "genre": "rock",
            "mood": "energetic",
            "instruments": ["electric guitar", "drums"],
        },
    ),
    (
        "jazz_club",
        110,
        MINOR,
        True,
        {
            "caption": "A smooth late-night jazz tune with saxophone and upright bass",
            "genre": "jazz",
            "mood": "calm",
            "instruments": "saxophone; bass",
        },
    ),
    (
        "jazz_bebop",
        165,
        MAJOR,
        True,
        {
            "caption": "A fast bebop jazz number with piano and drums",
            "genre": "jazz",
            "mood": "energetic",
            "instruments": "piano, drums",
        },
    ),
    (
        "ambient_space",
        60,
        MAJOR,
        False,
        {
            "caption": "Dreamy ambient synth pads floating in space",
            "genre": "ambient",
            "mood": "dreamy",
            "instruments": "pad|synthesizer",
        },
    ),
    (
        "pop_summer",
        124,
        MAJOR,
        True,
        {
            "caption": "An upbeat summer pop song with synthesizer and hand claps",
            "genre": "pop",
            "mood": "happy",
            "instruments": "synthesizer, drums",
        },
    ),
]


def render_track(
    path: Path, bpm: float, progression, drums: bool, seconds: float = 6.0, seed: int = 0
) -> Path:
    """Write a synthetic arrangement ``[1, T]`` at 22.05 kHz to ``path`` (wav/flac by suffix)."""
    from vmb.analysis.reference_signals import arrangement
    from vmb.media import write_wav

    # one bass note a beat below 90 BPM: two would read as double time
    bass_notes = 1 if bpm < 90 else 2
    audio = arrangement(
        bpm,
        seconds,
        SR,
        progression=progression,
        drums=drums,
        bass_notes_per_beat=bass_notes,
        seed=seed,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".wav":
        write_wav(path, audio[None, :], SR)
    else:
        import soundfile as sf

        sf.write(str(path), audio, SR)
    return path


def write_library(folder: Path, tracks=TRACKS, manifest: bool = True) -> Path:
    """Render ``tracks`` into ``folder/audio/`` and write ``folder/library.jsonl``; returns the
    manifest (or the folder when ``manifest`` is false)."""
    rows = []
    for i, (name, bpm, progression, drums, row) in enumerate(tracks):
        render_track(folder / "audio" / f"{name}.wav", bpm, progression, drums, seed=i)
        rows.append({"path": f"audio/{name}.wav", **row})
    if not manifest:
        return folder
    target = folder / "library.jsonl"
    target.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return target
