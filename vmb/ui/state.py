"""The bridges as the page shows them, and the page's edits turned back into bridges.

The page shows a :class:`~vmb.pipeline.Prepared` (what :meth:`Pipeline.prepare` found) as
fields; :func:`apply_edits` gives back the :class:`Prepared` the generator gets. A field the
user did not change keeps its exact value (a slider does not round an energy of 0.4567), so an
unedited page makes the same music as ``vmb generate`` with the same inputs and seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.describe.cues import Cue
from vmb.errors import UsageError, VMBError
from vmb.pipeline import Prepared
from vmb.types import Bridges, GenerationResult, Hit, MusicDescription

MIN_BPM, MAX_BPM = 20.0, 300.0
FIELDS = ("genre", "mood", "instruments", "tempo_bpm", "key", "mode", "energy", "text")
NONE = "(none)"
SYNC_CHOICES = ("cuts", "scenes", "off")
SECTION_COLUMNS = ["#", "start (s)", "end (s)", "energy", "mood", "tempo", "genre", "from", "the section's sentence"]


def cue_lines(text: str | None) -> tuple[str, ...]:
    """The cue box's cues: one per line, blank lines and ``#`` comments left out."""
    lines = (line.strip() for line in str(text or "").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def page_cues(text: str | None) -> tuple[Cue, ...]:
    """The cue box as :class:`~vmb.describe.cues.Cue` objects, each named ``cue line N (...)``
    so a later error (an overlap, a cue past the video's end) names the line too.

    One cue a line, the syntax of ``vmb generate --cue``: ``0-8=calm``,
    ``8-16=energetic, fast``, ``16-24=mood:sad,energy:0.3``, or a marker ``12.5``.

    Raises:
        CueError, UsageError: the first bad line, as ``cue line N: <line>: <problem>``.
    """
    from vmb.describe.cues import parse_cue, parse_cues
    from vmb.vocab import load_vocab

    vocab = load_vocab()
    cues = []
    numbered = [(n, line.strip()) for n, line in enumerate(str(text or "").splitlines(), start=1)]
    for number, line in numbered:
        if not line or line.startswith("#"):
            continue
        try:
            cue = parse_cue(line, vocab)
        except VMBError as exc:
            message = str(exc).removeprefix("--cue ")
            raise type(exc)(f"cue line {number}: {message}") from None
        cues.append(dataclasses.replace(cue, label=f"cue line {number} ({line})"))
    return tuple(parse_cues(cues, vocab=vocab))  # in time order; overlaps are errors


def check_sync(sync: str | None) -> str:
    sync = (sync or "cuts").strip()
    if sync not in SYNC_CHOICES:
        raise UsageError(f"sync {sync!r}: use one of {', '.join(SYNC_CHOICES)}")
    return sync


def section_rows(description: MusicDescription) -> list[list]:
    """The timeline's sections as the page's table (:data:`SECTION_COLUMNS`)."""
    rows = []
    for number, s in enumerate(description.sections, start=1):
        energy = None if s.energy is None else round(float(s.energy), 2)
        rows.append([number, round(s.start_s, 2), round(s.end_s, 2), energy, ", ".join(s.mood),
                     s.tempo_class or "", s.genre or "", s.source, s.text])  # fmt: skip
    return rows


def shown_fields(description: MusicDescription) -> dict[str, Any]:
    """The page's value of each editable field of ``description``."""
    d = description
    return {
        "genre": d.genre or NONE,
        "mood": list(d.mood),
        "instruments": list(d.instruments),
        "tempo_bpm": None if d.tempo_bpm is None else round(float(d.tempo_bpm), 1),
        "key": d.key or NONE,
        "mode": d.mode or NONE,
        "energy": None if d.energy is None else round(float(d.energy), 2),
        "text": d.text,
    }


def _same(shown: Any, given: Any) -> bool:
    if isinstance(shown, list) or isinstance(given, list):
        return list(shown or []) == list(given or [])
    if isinstance(shown, float) or isinstance(given, float):
        if shown is None or given is None:
            return shown is None and given is None
        return abs(float(shown) - float(given)) < 1e-9
    return (shown or None) == (given or None)


def hit_label(number: int, hit: Hit) -> str:
    """``"1 · broad · 0.812 · a calm piano piece"``: how a reference is named in the page."""
    what = hit.clip.caption or hit.clip.path.rsplit("/", 1)[-1]
    return f"{number} · {hit.track} · {hit.score:.3f} · {what}"


def reference_labels(bridges: Bridges) -> list[str]:
    return [hit_label(i + 1, hit) for i, hit in enumerate(bridges.references)]


def edit_sections(original: MusicDescription, values: dict[str, Any]) -> tuple:
    """The timeline's sections with the page's edits of the global fields carried into them, so
    that a section never keeps what the user changed (a section says "(pop)" no more once the
    genre is edited to jazz): an edited genre, instruments or tempo replaces the sections' own
    (they fall back to the global one), an edited mood replaces the section moods that
    contradict it, an edited energy shifts every section's energy by the same amount. Each
    changed section's sentence is written again."""
    from vmb.describe.schema import contradicts, section_sentence

    if not original.sections:
        return original.sections
    out = []
    for sec in original.sections:
        changes: dict[str, Any] = {}
        if "genre" in values:
            changes["genre"] = None
        if "instruments" in values:
            changes["instruments"] = ()
        if "tempo_bpm" in values:
            changes["tempo_class"] = None
        if "mood" in values:
            wanted = tuple(values["mood"] or ())
            kept = tuple(m for m in sec.mood if not contradicts(m, wanted))
            changes["mood"] = tuple(dict.fromkeys((*wanted, *kept)))[: max(len(sec.mood), len(wanted))]
        if values.get("energy") is not None and sec.energy is not None:
            before = original.energy if original.energy is not None else values["energy"]
            changes["energy"] = round(min(1.0, max(0.0, sec.energy + values["energy"] - before)), 3)
        out.append(sec.replace(**changes) if changes else sec)
    return tuple(sec.replace(text=section_sentence(sec, i, len(out))) if sec != original.sections[i] else sec
                 for i, sec in enumerate(out))  # fmt: skip


def apply_edits(
    prepared: Prepared,
    edits: dict[str, Any],
    keep: list[str] | None = None,
    pin: list[str] | None = None,
    text_weight: float | None = None,
    music_weight: float | None = None,
) -> tuple[Prepared, list[str]]:
    """The prepared job with the page's edits, and a line per edit for the notes.

    Args:
        edits: the page's value of each of :data:`FIELDS`.
        keep: the labels (:func:`reference_labels`) of the references to keep (``None``: all).
        pin: the labels of retrieved references to pin (moved first, track ``pinned``).
        text_weight, music_weight: the guidance weights (``None``: unchanged).
    """
    from vmb.describe.schema import write_sentence
    from vmb.retrieve.text import bridge_text
    from vmb.vocab import load_vocab

    bridges = prepared.bridges
    original = bridges.description
    shown = shown_fields(original)
    changes: dict[str, Any] = {}
    for name in FIELDS:
        if name in edits and not _same(shown[name], edits[name]):
            changes[name] = edits[name]
    notes = []
    description = original
    if changes:
        values = dict(changes)
        for name in ("genre", "key", "mode"):
            if name in values and values[name] in (NONE, ""):
                values[name] = None
        for name in ("tempo_bpm", "energy"):
            if name in values and values[name] is not None:
                values[name] = float(values[name])
        if values.get("energy") is not None and not 0.0 <= values["energy"] <= 1.0:
            raise UsageError(f"energy {values['energy']:g}: expected 0 to 1")
        if "tempo_bpm" in values:
            bpm = values["tempo_bpm"]
            if bpm is not None and not MIN_BPM <= bpm <= MAX_BPM:
                raise UsageError(f"tempo {bpm:g} BPM: expected {MIN_BPM:g} to {MAX_BPM:g} (or empty for none)")
            values["tempo_class"] = None if bpm is None else load_vocab().tempo_class(bpm)
        sentence_edited = "text" in values
        sections = edit_sections(original, values)
        description = original.replace(**values, sections=sections, source=_edited_source(original.source))
        if not sentence_edited:
            description = description.replace(text=write_sentence(description))
        notes = [f"edited in the page: {name} = {_show(values[name])}" for name in sorted(values)]
    labels = reference_labels(bridges)
    labelled = list(zip(bridges.references, labels, strict=True))
    if keep is not None:
        notes += [f"dropped in the page: reference {label}" for _, label in labelled if label not in keep]
        labelled = [(hit, label) for hit, label in labelled if label in keep]
    pin_set = set(pin or ())
    notes += [f"pinned in the page: reference {label}" for hit, label in labelled
              if label in pin_set and hit.track != "pinned"]  # fmt: skip
    hits = [dataclasses.replace(hit, track="pinned") if label in pin_set else hit for hit, label in labelled]
    hits.sort(key=lambda hit: hit.track != "pinned")  # pinned first, as the retriever orders them
    weights = {}
    if text_weight is not None and float(text_weight) != bridges.text_weight:
        weights["text_weight"] = float(text_weight)
    if music_weight is not None and float(music_weight) != bridges.music_weight:
        weights["music_weight"] = float(music_weight)
    notes += [f"edited in the page: {k} = {v:g}" for k, v in weights.items()]
    if not changes and hits == list(bridges.references) and not weights:
        return prepared, []
    text = bridge_text(description, bridges.wants) if changes else bridges.text
    new = dataclasses.replace(bridges, description=description, text=text, references=tuple(hits), **weights)
    return prepared.replace(bridges=new, notes=tuple(prepared.notes) + tuple(notes)), notes


def _edited_source(source: str) -> str:
    return source if source.endswith("+page") else f"{source}+page" if source else "page"


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "(none)"
    return "(none)" if value is None else str(value)


@dataclass(frozen=True)
class Made:
    """One result of the session as the page lists it (the audio itself stays in its file)."""

    number: int
    seed: int | None
    tempo_bpm: float | None
    duration_s: float
    generator: str
    wav: str
    mp4: str | None = None

    @property
    def label(self) -> str:
        tempo = "" if self.tempo_bpm is None else f", {self.tempo_bpm:.0f} BPM"
        return f"#{self.number}: seed {self.seed}{tempo}"

    def row(self) -> list:
        tempo = None if self.tempo_bpm is None else round(self.tempo_bpm, 1)
        return [self.number, self.seed, tempo, round(self.duration_s, 2), self.generator, Path(self.wav).name]


@dataclass
class Session:
    """One browser tab's work: the prepared bridges, the inputs they came from, and every
    result made from them (oldest first, for comparison)."""

    prepared: Prepared | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    results: list[Made] = field(default_factory=list)
    cues: tuple[str, ...] = ()  # the cue box's lines the bridges were prepared with
    sync: str = "cuts"

    def check_timeline(self, cue_text: str | None, sync: str | None) -> None:
        """Raise when the page's cues or sync are not those the bridges were made with (the
        generator gets what the page shows: the timeline is remade by *Apply*)."""
        if cue_lines(cue_text) != self.cues or check_sync(sync) != self.sync:
            raise UsageError("the cues or the sync changed after the timeline was made: press "
                             "'Apply cues and sync' first (the generator gets what the page shows)")  # fmt: skip

    def add(self, result: GenerationResult) -> Made:
        tempo = result.bridges.description.tempo_bpm
        made = Made(number=len(self.results) + 1, seed=result.seed, tempo_bpm=None if tempo is None else float(tempo),
                    duration_s=result.duration_s, generator=result.generator, wav=result.paths["wav"],
                    mp4=result.paths.get("mp4"))  # fmt: skip
        self.results.append(made)
        return made
