"""The demo library: real compositions from the music21 corpus, rendered and indexed.

``vmb index demo`` (and the first ``vmb generate``/``vmb retrieve`` that needs it) reads
``configs/demo_library.yaml``, takes the beginning of each score, gives its parts the listed
General MIDI programs, renders it with the built-in renderer (:mod:`vmb.generate.builtin`), and
indexes the result with the built-in encoders into ``<data home>/index/demo``
(:func:`vmb.home.data_home`; ``VMB_HOME`` overrides). Rendered audio is kept in
``index/demo-audio`` beside it.

This module sits above the stages: it uses both the generator's renderer and the retriever's
index builder. The build is atomic (the index folder appears complete or not at all) and runs
under a file lock, so two processes that start at once build it once.
"""

from __future__ import annotations

import json
import logging
import os
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vmb.config import DEMO_LIBRARY, configs_dir
from vmb.errors import ConfigError, VMBError
from vmb.fileio import atomic_write_json, atomic_write_text
from vmb.home import data_home, file_lock

logger = logging.getLogger(__name__)

DRUM_CHANNEL = 9


@dataclass(frozen=True)
class DemoEntry:
    """One score of the demo library and how to render it."""

    work: str
    programs: tuple[int, ...]
    instruments: tuple[str, ...]
    bpm: float
    genre: str
    mood: tuple[str, ...] = ()
    number: int | None = None
    title: str | None = None

    @property
    def id(self) -> str:
        stem = self.work.rsplit(".", 1)[0] if self.work.endswith((".mxl", ".xml", ".abc", ".krn")) else self.work
        name = stem.replace("/", "-").replace(".", "_")
        return f"{name}-{self.number}" if self.number is not None else name


def load_library(path: str | Path | None = None) -> tuple[list[DemoEntry], float]:
    """The entries of ``configs/demo_library.yaml`` and the seconds to render of each."""
    path = Path(path) if path else configs_dir() / "demo_library.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the demo library ({exc})") from None
    entries = []
    for i, item in enumerate(data.get("entries") or ()):
        try:
            entries.append(
                DemoEntry(
                    work=str(item["work"]),
                    programs=tuple(int(p) for p in item["programs"]),
                    instruments=tuple(item.get("instruments") or ()),
                    bpm=float(item["bpm"]),
                    genre=str(item["genre"]),
                    mood=tuple(item.get("mood") or ()),
                    number=item.get("number"),
                    title=item.get("title"),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: entry {i + 1} is incomplete ({exc})") from None
    return entries, float(data.get("seconds", 30))


def score_to_midi(entry: DemoEntry, seconds: float, out: Path) -> dict[str, Any]:
    """Write the first ``seconds`` of ``entry``'s score as a MIDI file at ``entry.bpm``.

    A score shorter than ``seconds`` is played again from the top (as dance tunes are). Returns
    the score's metadata (title, composer).
    """
    import mido
    from music21 import corpus
    from music21 import repeat as m21repeat

    parsed = corpus.parse(entry.work, number=entry.number) if entry.number else corpus.parse(entry.work)
    score = parsed.scores[0] if hasattr(parsed, "scores") else parsed
    quarters_needed = seconds * entry.bpm / 60.0 + 2.0
    excerpt = _excerpt(score, quarters_needed)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.mid"
        try:
            excerpt.write("midi", fp=str(raw))
        except m21repeat.ExpanderException:
            # Repeat signs music21 cannot expand: play the excerpt straight through instead.
            excerpt = _without_repeats(excerpt)
            excerpt.write("midi", fp=str(raw))
        midi = mido.MidiFile(str(raw))
    _retarget(midi, entry, quarters_needed)
    midi.save(str(out))
    return {"title": _title(entry, score.metadata), "composer": _composer(entry, score.metadata)}


COMPOSERS = {
    "bach": "J.S. Bach", "mozart": "W.A. Mozart", "haydn": "Joseph Haydn",
    "beethoven": "Ludwig van Beethoven", "chopin": "Frederic Chopin", "verdi": "Giuseppe Verdi",
    "handel": "G.F. Handel", "weber": "Carl Maria von Weber", "joplin": "Scott Joplin",
    "monteverdi": "Claudio Monteverdi", "schumann_clara": "Clara Schumann",
    "schumann_robert": "Robert Schumann", "liliuokalani": "Liliuokalani",
    "leadSheet/berlin": "Irving Berlin",
}


def _composer(entry: DemoEntry, meta: Any) -> str | None:
    for prefix, name in sorted(COMPOSERS.items(), key=lambda kv: -len(kv[0])):
        if entry.work.startswith(prefix):
            return name
    return meta.composer if meta is not None and meta.composer else None


def _title(entry: DemoEntry, meta: Any) -> str:
    if entry.title:
        return entry.title
    if entry.work.startswith("bach/bwv"):
        return "Chorale BWV " + entry.work[len("bach/bwv"):].removesuffix(".mxl")
    if meta is not None and meta.title and meta.title.strip():
        title = meta.title.strip()
        return string.capwords(title.lower()) if title.isupper() else title
    return entry.id


def _without_repeats(score: Any) -> Any:
    from music21 import bar
    from music21 import repeat as m21repeat

    score = score.coreCopy() if hasattr(score, "coreCopy") else score
    for measure in score.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(measure, side), bar.Repeat):
                setattr(measure, side, None)
    for element in list(score.recurse().getElementsByClass(m21repeat.RepeatExpression)):
        element.activeSite.remove(element)
    for element in list(score.recurse().getElementsByClass("RepeatBracket")):
        for site in list(element.getSpannerSites() if hasattr(element, "getSpannerSites") else ()):
            site.remove(element)
    return score


def _excerpt(score: Any, quarters: float) -> Any:
    """The measures of ``score`` that cover ``quarters`` quarter notes (all of a short one)."""
    if score.duration.quarterLength <= quarters:
        return score
    measures = score.parts[0].getElementsByClass("Measure")
    last = None
    for measure in measures:
        last = measure.number
        if measure.offset + measure.duration.quarterLength >= quarters:
            break
    return score.measures(0, last) if last is not None else score


def _retarget(midi: Any, entry: DemoEntry, quarters: float) -> None:
    """Give each track its own channel and GM program, one tempo, and loop it to length."""
    import mido

    tpb = midi.ticks_per_beat
    end_ticks = int(quarters * tpb)
    tempo = mido.bpm2tempo(entry.bpm)
    channel_of: dict[int, int] = {}
    tracks = []
    for t_index, track in enumerate(midi.tracks):
        events = []
        now = 0
        for msg in track:
            now += msg.time
            if msg.type in ("set_tempo", "end_of_track", "program_change"):
                continue
            events.append((now, msg))
        length = max((t for t, _ in events), default=0)
        tracks.append((t_index, events, length))
    song_length = max((length for _, _, length in tracks), default=0)
    song_length = max(song_length, 1)

    new_tracks = []
    voice = 0
    for t_index, events, _ in tracks:
        has_notes = any(m.type == "note_on" for _, m in events)
        if not has_notes:
            continue
        channel = voice if voice < DRUM_CHANNEL else voice + 1
        channel = min(channel, 15)
        program = entry.programs[voice % len(entry.programs)]
        channel_of[t_index] = channel
        voice += 1
        looped = []
        offset = 0
        while offset < end_ticks:
            for t, msg in events:
                at = offset + t
                if at >= end_ticks:
                    if msg.type == "note_on" and msg.velocity > 0:
                        continue
                    at = end_ticks
                looped.append((at, msg))
            offset += song_length
        looped.sort(key=lambda item: (item[0], 0 if _is_note_off(item[1]) else 1))
        looped.extend((end_ticks, msg) for msg in _note_offs_for_held(looped))
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", program=program, channel=channel, time=0))
        last = 0
        for t, msg in looped:
            msg = msg.copy(time=t - last, channel=channel) if hasattr(msg, "channel") else msg.copy(time=t - last)
            track.append(msg)
            last = t
        new_tracks.append(track)
    head = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    midi.tracks = [head, *new_tracks]
    midi.type = 1


def _is_note_off(msg: Any) -> bool:
    return msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)


def _note_offs_for_held(events: list[tuple[int, Any]]) -> list[Any]:
    """Note-offs for notes still held at the end (scores with overlapping unisons leave some;
    a held looping sample keeps FluidSynth's file renderer running forever)."""
    import mido

    held: dict[tuple[int, int], int] = {}
    for _, msg in events:
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        held[key] = max(0, held.get(key, 0) + (-1 if _is_note_off(msg) else 1))
    return [
        mido.Message("note_off", channel=channel, note=note, velocity=0)
        for (channel, note), count in sorted(held.items())
        for _ in range(count)
    ]


def caption_for(entry: DemoEntry, meta: dict[str, Any], key: str | None, mode: str | None) -> str:
    """A plain-language caption from the score's metadata and the rendering's attributes."""
    who = f" by {meta['composer']}" if meta.get("composer") else ""
    instruments = ", ".join(entry.instruments) or "ensemble"
    mood = " and ".join(entry.mood) if entry.mood else ""
    key_text = f" in {key} {mode}" if key and mode else ""
    kind = f"{mood + ' ' if mood else ''}{entry.genre} piece"
    article = "an" if kind[0] in "aeiou" else "a"
    parts = [f"{meta['title']}{who}", f"{article} {kind} for {instruments}"]
    return f"{', '.join(parts)}{key_text} at about {entry.bpm:.0f} BPM".strip()


def write_manifest(rows: list[dict[str, Any]], path: Path) -> None:
    """Write a JSONL manifest atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _fade(audio: np.ndarray, sample_rate: int, seconds: float = 0.5) -> np.ndarray:
    n = min(audio.shape[-1], int(seconds * sample_rate))
    if n:
        audio = audio.copy()
        audio[..., -n:] *= np.linspace(1.0, 0.0, n, dtype=audio.dtype)
    return audio


class DemoBuildError(VMBError):
    """The demo library could not be rendered or indexed."""


def demo_index_path() -> Path:
    """Where the demo index lives: ``<data home>/index/demo``."""
    return data_home() / "index" / DEMO_LIBRARY


def resolve_index_path(path: str | os.PathLike) -> Path:
    """An ``index.path`` / ``--index`` value as a folder: the name ``demo`` is the demo library in
    the data home; anything else is a path, taken as given."""
    return demo_index_path() if str(path) == DEMO_LIBRARY else Path(path).expanduser()


def is_demo_index(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the demo library (by name or at its place), built on first use."""
    return str(path) == DEMO_LIBRARY or Path(path).expanduser().resolve() == demo_index_path().resolve()


def render_library(
    audio_dir: Path,
    library: str | Path | None = None,
    sample_rate: int = 32000,
    renderer: str = "auto",
    progress: bool = False,
) -> tuple[Path, list[str]]:
    """Render every entry of the demo library to ``audio_dir`` and write its manifest.

    Returns the manifest path and notes (the renderer used; entries that failed, with why).
    Entries already rendered are reused.
    """
    from rich.progress import Progress

    from vmb.analysis import estimate_key
    from vmb.generate.builtin import render_midi
    from vmb.media import read_audio, write_wav

    entries, seconds = load_library(library)
    audio_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    render_notes: set[str] = set()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("rendering the demo library", total=len(entries))
        for entry in entries:
            wav = audio_dir / f"{entry.id}.wav"
            meta_path = audio_dir / f"{entry.id}.json"
            try:
                if wav.is_file() and meta_path.is_file():
                    meta = json.loads(meta_path.read_text(encoding="utf-8"))
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        mid = Path(tmp) / f"{entry.id}.mid"
                        meta = score_to_midi(entry, seconds, mid)
                        audio, sr, note = render_midi(mid, sample_rate=sample_rate, renderer=renderer)
                    render_notes.add(note)
                    audio = _fade(audio[..., : int(seconds * sr)], sr)
                    write_wav(wav, audio, sr)
                    mono, sr = read_audio(wav, mono=True)
                    found = estimate_key(mono, sr)
                    meta.update({"key": found.key, "mode": found.mode})
                    atomic_write_json(meta_path, meta, indent=None)
            except VMBError as exc:
                notes.append(f"{entry.work}: skipped ({exc})")
                bar.advance(task)
                continue
            except Exception as exc:  # noqa: BLE001 - one broken score must not stop the library
                notes.append(f"{entry.work}: skipped ({type(exc).__name__}: {exc})")
                bar.advance(task)
                continue
            rows.append(
                {
                    "path": wav.name,
                    "caption": caption_for(entry, meta, meta.get("key"), meta.get("mode")),
                    "genre": entry.genre,
                    "mood": list(entry.mood),
                    "instruments": list(entry.instruments),
                    "tempo_bpm": entry.bpm,
                    "title": meta.get("title"),
                    "composer": meta.get("composer"),
                }
            )
            bar.advance(task)
    manifest = audio_dir / "manifest.jsonl"
    write_manifest(rows, manifest)
    notes[:0] = sorted(render_notes)
    return manifest, notes


def ensure_demo_index(
    path: str | os.PathLike | None = None,
    progress: bool = False,
    rebuild: bool = False,
    renderer: str = "auto",
    library: str | Path | None = None,
) -> list[str]:
    """Build the demo index at ``path`` (default: :func:`demo_index_path`) unless it is already
    there. Returns notes.

    The build holds a lock (``.<name>.lock`` beside ``path``): a second process that asks at the
    same time waits for the first and then finds the index built. The index folder is written
    atomically by :func:`~vmb.retrieve.build_index`. ``library`` is a YAML file like
    ``configs/demo_library.yaml`` (the default).
    """
    from vmb.retrieve import build_index

    path = resolve_index_path(path) if path is not None else demo_index_path()
    if (path / "info.json").is_file() and not rebuild:
        return [f"demo index already at {path}"]
    with file_lock(path.parent / f".{path.name}.lock"):
        if (path / "info.json").is_file() and not rebuild:
            return [f"demo index already at {path} (built by another process)"]
        audio_dir = path.parent / f"{path.name}-audio"
        manifest, notes = render_library(audio_dir, library=library, renderer=renderer, progress=progress)
        build_index(manifest, path, encoder="builtin", segment_s=10.0, hop_s=10.0, progress=progress)
    return notes
