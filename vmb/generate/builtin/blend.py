"""How the two bridges decide what the composer writes.

The text bridge (a :class:`~vmb.types.MusicDescription`) and the music bridge (the measured
:class:`~vmb.generate.builtin.reference.ReferenceFeatures` of the followed reference) are
blended with the *music share*

    a = music_weight / (text_weight + music_weight)        (0 when both weights are 0)

so ``a = 0`` follows the description only and ``a = 1`` the reference only. Per attribute:

=============  ===================================================================================
tempo          the description's BPM when it states one; else geometric interpolation
               ``T = Td^(1-a) * Tr^a`` of its inferred BPM (or what its tempo class or mood
               implies) and the reference's beat-tracked tempo
key, mode      the description's when it states them; else the reference's (an inferred key or
               mode of the description wins while ``a < 0.5``)
energy         linear interpolation ``E = (1-a) Ed + a Er``; ``Er`` is the mean measured energy
               of all references
harmony        a fraction ``a`` of the body sections plays the reference's chord loop
               (transposed into the chosen key), the others the table progressions; when
               ``a >= 0.5`` the intro also starts the loop
dynamics       bar velocities follow the reference's bar-energy envelope with depth ``a``
genre, mood,   from the description only (the reference's tagged attributes fill them when the
instruments    description leaves them empty)
=============  ===================================================================================

The description's side of an attribute is its own field, else what its mood or its genre
implies through the composer tables (``"calm"`` means slow, quiet, major), so a description that
only says ``calm`` still pulls the tempo and energy its way. Where only one side has a value it
is used whatever the weights; where neither has one, the tables' genre or fallback defaults
apply. The user's numbers win: a tempo, key or mode the description *states* (typed in the text or
given as a ``--want``; :attr:`MusicDescription.stated`) is kept exactly and references only blend
the attributes the description leaves open. A value the describer *inferred* (a BPM measured
from the picture's motion, a key from its colour, a VLM's reading) is the description's side of
a blend like a tempo class or a mood: the tempo blends geometrically, the key and mode are the
reference's when the music share is at least one half. Finally the user's
targeted wants (``--want key=D``, ``tempo=fast``...) override everything: they were asked for
explicitly (a ``tempo`` want clamps only a tempo the description did not state). The followed reference is the first of the bridges' references (pinned
first, then broad, then targeted), so pinned references are followed the same way as retrieved
ones.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from vmb.generate.builtin.reference import ReferenceFeatures
from vmb.generate.builtin.tables import PITCH_CLASSES, ComposerTables, pitch_class
from vmb.types import ClipAttributes, MusicDescription, Wants


@dataclass(frozen=True)
class Plan:
    """What the composer is asked to write, every field decided.

    ``choices`` says for each attribute where its value came from (for notes and tests).
    """

    tempo_bpm: float
    tonic: int
    mode: str
    energy: float
    genre: str
    moods: tuple[str, ...]
    instruments: tuple[str, ...]
    instruments_given: bool
    music_share: float
    reference: ReferenceFeatures | None = None
    choices: dict[str, str] = field(default_factory=dict)
    drums: bool | None = None  # True: asked for, False: refused in the words, None: by style
    drums_reason: str = ""
    tempo_stated: bool = False  # the user typed this BPM: kept exactly (a loop fits around it)

    @property
    def key(self) -> str:
        return PITCH_CLASSES[self.tonic]

    @property
    def follows_reference_harmony(self) -> bool:
        return self.reference is not None and bool(self.reference.bars) and self.music_share > 0


MIN_BPM, MAX_BPM = 30.0, 260.0  # the range the text parser accepts (vmb.describe.text.BPM_RANGE)
_NO_DRUMS = re.compile(r"\b(solo|unaccompanied|a cappella|no drums|without drums|no percussion|drumless)\b", re.IGNORECASE)
_DRUMS = re.compile(r"\b(drums|drum kit|percussion|beat)\b", re.IGNORECASE)


def drums_in_words(description: MusicDescription, wants: Wants | None = None) -> tuple[bool | None, str]:
    """Whether the words ask for drums (``True``), refuse them (``False``: "solo piano",
    "no drums") or leave them to the style (``None``), and why."""
    text = description.text or ""
    m = _NO_DRUMS.search(text)
    if m:
        return False, f"the description says {m.group(0)!r}"
    if (wants and wants.instrument in ("drums", "percussion")) or any(
            i in ("drums", "percussion") for i in description.instruments) or _DRUMS.search(text):
        return True, "asked for"
    return None, ""


def inferred_by(description: MusicDescription) -> str:
    """Where an inferred (not stated) value of ``description`` came from, for the notes."""
    sources = [s for s in description.source.split("+") if s and s != "text"]
    if not sources:
        return "the description (inferred)"
    what = {"visual": "the visuals"}.get(sources[0], sources[0])
    return f"the description (inferred from {what}, not stated)"


def music_share(text_weight: float, music_weight: float) -> float:
    """``music_weight / (text_weight + music_weight)``, 0 when both are 0."""
    total = text_weight + music_weight
    return 0.0 if total <= 0 else music_weight / total


def blend(
    description: MusicDescription,
    tables: ComposerTables,
    references: list[ReferenceFeatures] = (),
    attributes: ClipAttributes | None = None,
    wants: Wants | None = None,
    text_weight: float = 3.0,
    music_weight: float = 1.0,
) -> Plan:
    """Decide every attribute of the piece (see the module docstring for the rules).

    Args:
        description: the text bridge.
        tables: the composer tables (defaults).
        references: measured references, the followed one first.
        attributes: the followed reference's tagged attributes (fill empty description fields).
        wants: the user's targeted attributes (override).
        text_weight, music_weight: the bridges' weights (non-negative).
    """
    a = music_share(text_weight, music_weight)
    ref = references[0] if references else None
    choices: dict[str, str] = {}
    d = description
    attrs = attributes or ClipAttributes()

    # genre, moods, instruments: description, else the reference's tags, else mood, else fallback
    moods = tuple(d.mood) or tuple(attrs.mood)
    if d.genre or attrs.genre:
        genre = d.genre or attrs.genre
        choices["genre"] = f"{genre} ({'description' if d.genre else 'reference tags'})"
    elif any(m in tables.mood_genres for m in moods):
        genre = next(tables.mood_genres[m] for m in moods if m in tables.mood_genres)
        choices["genre"] = f"{genre} (from mood)"
    else:
        genre = tables.fallback["genre"]
        choices["genre"] = f"{genre} (fallback)"
    if genre not in tables.genre_defaults:
        choices["genre"] += f"; no table of its own, played as {tables.fallback['genre']}"
    gdef = tables.genre_defaults.get(genre, {})
    instruments = tuple(d.instruments) or tuple(attrs.instruments)
    instruments_given = bool(instruments)
    if not instruments:
        instruments = tuple(gdef.get("instruments", ()))

    # what the text bridge says about each attribute: its own field, else what its mood or
    # genre implies (the composer tables), else nothing
    def text_side(name: str) -> tuple[object, str]:
        value = getattr(d, name, None)
        if value is not None:
            return value, "description" if d.is_stated(name) else inferred_by(d)
        if name == "tempo_bpm" and d.tempo_class in tables.tempo_classes:
            return float(tables.tempo_classes[d.tempo_class]["bpm"]), f"description tempo class {d.tempo_class}"
        mood = next((m for m in d.mood if name in tables.mood_defaults.get(m, {})), None)
        if mood is not None:
            return tables.mood_defaults[mood][name], f"description mood {mood}"
        if d.genre and name in tables.genre_defaults.get(d.genre, {}):
            return tables.genre_defaults[d.genre][name], f"description genre {d.genre}"
        return None, ""

    def text_or_default(name: str, value: object, src: str, kind: type) -> tuple[Any, str]:
        """The text side's ``value`` ("from <src>"), else the genre's default or the fallback
        ("(<which>)"), as ``kind``: the last choice for tempo, mode and energy."""
        if value is not None:
            return kind(value), f"from {src}"
        if name in gdef:
            return kind(gdef[name]), f"({genre} default)"
        return kind(tables.fallback[name]), "(fallback)"

    # tempo: geometric blend
    text_tempo, src = text_side("tempo_bpm")
    if d.is_stated("tempo_bpm"):
        tempo = float(d.tempo_bpm)
        choices["tempo"] = f"{tempo:.1f} BPM from the description (stated: kept exactly)"
    elif ref is not None and ref.has_tempo and text_tempo is not None:
        tempo = math.exp((1 - a) * math.log(float(text_tempo)) + a * math.log(ref.tempo_bpm))
        choices["tempo"] = (f"{tempo:.1f} BPM = {src} {float(text_tempo):.1f}^{1 - a:.2f}"
                            f" x reference {ref.tempo_bpm:.1f}^{a:.2f}")
    elif ref is not None and ref.has_tempo:
        tempo = ref.tempo_bpm
        choices["tempo"] = f"{tempo:.1f} BPM from reference {ref.label} (the description implies none)"
    else:
        tempo, how = text_or_default("tempo_bpm", text_tempo, src, float)
        choices["tempo"] = f"{tempo:.1f} BPM {how}"

    # key and mode: categorical, the reference's from a share of one half
    text_mode, mode_src = text_side("mode")
    if d.is_stated("mode"):
        mode = str(d.mode)
        choices["mode"] = f"{mode} from the description (stated: kept)"
    elif ref is not None and ref.has_key and (a >= 0.5 or text_mode is None):
        mode = ref.mode
        choices["mode"] = f"{mode} from reference {ref.label}"
    else:
        mode, how = text_or_default("mode", text_mode, mode_src, str)
        choices["mode"] = f"{mode} {how}"
    if d.is_stated("key"):
        tonic = pitch_class(d.key)
        choices["key"] = f"{PITCH_CLASSES[tonic]} from the description (stated: kept)"
    elif ref is not None and ref.has_key and (a >= 0.5 or d.key is None):
        tonic = PITCH_CLASSES.index(ref.key)
        choices["key"] = f"{ref.key} from reference {ref.label}"
    elif d.key is not None:
        tonic = pitch_class(d.key)
        choices["key"] = f"{PITCH_CLASSES[tonic]} from {inferred_by(d)}"
    else:
        tonic = pitch_class(gdef.get(f"key_{mode}") or tables.fallback["key"])
        choices["key"] = f"{PITCH_CLASSES[tonic]} ({genre if gdef else 'fallback'} default for {mode})"

    # energy: linear blend with the references' mean measured energy
    text_energy, src = text_side("energy")
    ref_energy = sum(r.energy for r in references) / len(references) if references else None
    if text_energy is not None and ref_energy is not None:
        energy = (1 - a) * float(text_energy) + a * ref_energy
        choices["energy"] = (f"{energy:.2f} = (1-{a:.2f}) x {src} {float(text_energy):.2f}"
                             f" + {a:.2f} x references {ref_energy:.2f}")
    elif ref_energy is not None:
        energy = ref_energy
        choices["energy"] = f"{energy:.2f} from references (the description implies none)"
    else:
        energy, how = text_or_default("energy", text_energy, src, float)
        choices["energy"] = f"{energy:.2f} {how}"

    # the user's explicit wants win
    w = wants or Wants()
    if w.genre:
        genre = w.genre
        choices["genre"] = f"{genre} (want)"
    if w.mood:
        moods = (w.mood,) + tuple(m for m in moods if m != w.mood)
    if w.instrument:
        instruments = (w.instrument,) + tuple(i for i in instruments if i != w.instrument)
        instruments_given = True
    if w.key:
        tonic = pitch_class(w.key)
        choices["key"] = f"{PITCH_CLASSES[tonic]} (want)"
    if w.mode:
        mode = w.mode
        choices["mode"] = f"{mode} (want)"
    if w.tempo and w.tempo in tables.tempo_classes and not d.is_stated("tempo_bpm"):
        lo, hi = tables.tempo_classes[w.tempo]["range"]
        if not lo <= tempo < hi:
            clamped = min(max(tempo, lo), hi - 1)
            choices["tempo"] += f"; clamped to {clamped:.1f} BPM for want tempo={w.tempo}"
            tempo = clamped

    if ref is not None:
        choices["harmony"] = (f"{a:.0%} of sections follow the chord loop of {ref.label}"
                              if ref.bars else f"reference {ref.label} has no chords; tables only")
    else:
        choices["harmony"] = "table progressions (no reference)"
    drums, drums_reason = drums_in_words(d, w)
    if not MIN_BPM <= tempo <= MAX_BPM:
        choices["tempo"] += f"; outside {MIN_BPM:g}-{MAX_BPM:g} BPM, clamped"
    return Plan(
        tempo_bpm=float(min(max(tempo, MIN_BPM), MAX_BPM)),
        tempo_stated=d.is_stated("tempo_bpm") and MIN_BPM <= tempo <= MAX_BPM,
        drums=drums,
        drums_reason=drums_reason,
        tonic=int(tonic),
        mode=mode,
        energy=float(min(max(energy, 0.0), 1.0)),
        genre=genre,
        moods=moods,
        instruments=instruments,
        instruments_given=instruments_given,
        music_share=a,
        reference=ref,
        choices=choices,
    )
