"""The description sentence and the rule that merges what the user wrote with what the pixels say.

The sentence
------------
:func:`write_sentence` joins the fields into one sentence in the style of the paper's
descriptions ("An uplifting and catchy pop track, blending bass, synthesizer, drums which is
perfect for nostalgic and fun moments"), using only vocabulary words, e.g.::

    A happy and energetic pop track in G major at 128 BPM (fast tempo), blending drums, bass
    and synthesizer, with high energy, perfect for a sunny day scene.

The merge rule (several inputs at once)
---------------------------------------
A video, images and text give one description. ``pixels`` is what a describer inferred from
the visuals, ``words`` what :func:`vmb.describe.text.parse_text` read in the user's text:

1. **Explicit text wins** for any field it sets: genre, tempo, key, mode, energy, theme.
2. **Pixels fill the rest.**
3. **Moods and instruments are a union**, the user's words first, then the inferred ones not
   already named (at most :data:`MAX_MOODS` moods and :data:`MAX_INSTRUMENTS` instruments);
   an inferred mood that contradicts one the user wrote is left out (no "sad, happy").
4. **Tempo**: a BPM in the text wins and sets the class. A tempo *class* in the text alone
   ("fast") keeps the inferred BPM if it lies in that class, else moves it to the nearest BPM
   inside the class.
5. **Key and mode** are separate fields: "in D" keeps the inferred mode, "minor" alone keeps the
   inferred key.
6. **The sentence** is written again from the merged fields, after the user's own text, which
   is kept word for word. (If the describer returned free text without fields, that text is
   kept instead of a new sentence.)

``source`` names both parts, e.g. ``visual+text``.

Several visual inputs (a video and images, or images in sequence)
-----------------------------------------------------------------
Their colours are never averaged into one picture that none of them shows (a sunny video and
a green forest image are not "a cold blue evening"). Each input is described on its own (a
section of the timeline) and :func:`summarise` makes the global fields a consistent summary:

7. **Energy** is the mean of the parts' energies weighted by their length; the BPM follows it.
8. **Genre, instruments, key and mode** are those of the longest part (equal parts counted
   together, the first of equally long ones): one input's, so nothing that no input shows.
   The **theme** ("night", "sunny day") only when every part has that theme.
9. **Moods**: the longest part's, then the other parts' in order, leaving out every mood
   that contradicts a mood of any part (``mood_antonyms`` in ``configs/vocab.yaml``: never
   "calm" beside an "energetic" section, "sad" or "dark" beside a "happy" one). A dark
   opening and a happy ending share no mood word; the sections say each.

Wants
-----
:func:`apply_wants` puts the user's targeted attributes into the description: a wanted mood
goes first and removes the moods that contradict it (``--want mood=happy`` turns "sad and
dark" into "happy", it is not appended beside them); a wanted genre, tempo class, key or mode
replaces the inferred one, a wanted instrument comes first.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import yaml

from vmb.config import configs_dir
from vmb.types import MusicDescription, Section, Wants
from vmb.vocab import Vocab, key_phrase, load_vocab

MAX_MOODS = 3
MAX_INSTRUMENTS = 5

FIELDS = (  # the description fields a describer fills (and a training target holds)
    "genre",
    "mood",
    "instruments",
    "tempo_bpm",
    "tempo_class",
    "key",
    "mode",
    "energy",
    "theme",
)


def has_fields(description: MusicDescription) -> bool:
    """True when any musical field (not just ``text``) is set."""
    return any(getattr(description, name) not in (None, ()) for name in FIELDS)


def energy_word(energy: float) -> str:
    """``low`` below 0.35, ``high`` from 0.65, else ``moderate``."""
    if energy < 0.35:
        return "low"
    if energy >= 0.65:
        return "high"
    return "moderate"


def _join(words: list[str] | tuple[str, ...]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


def write_sentence(description: MusicDescription) -> str:
    """One fluent sentence from the fields of ``description`` ("" when no field is set)."""
    d = description
    if not has_fields(d):
        return ""
    noun = f"{d.genre} track" if d.genre else "piece"
    moods = _join(list(d.mood[:MAX_MOODS]))
    head = f"{moods} {noun}" if moods else noun
    parts = [f"{_article(head)} {head}"]
    if key := key_phrase(d.key, d.mode):
        parts.append(f" {key}")
    if d.tempo_bpm is not None and d.tempo_class:
        parts.append(f" at {d.tempo_bpm:.0f} BPM ({d.tempo_class} tempo)")
    elif d.tempo_bpm is not None:
        parts.append(f" at {d.tempo_bpm:.0f} BPM")
    elif d.tempo_class:
        parts.append(f" with a {d.tempo_class} tempo")
    if d.instruments:
        parts.append(f", blending {_join(list(d.instruments[:MAX_INSTRUMENTS]))}")
    if d.energy is not None:
        parts.append(f", with {energy_word(d.energy)} energy")
    if d.theme:
        theme = d.theme.strip().rstrip(".")
        parts.append(f", perfect for {_article(theme).lower()} {theme} scene")
    return "".join(parts) + "."


def _sentence_case(text: str) -> str:
    text = " ".join(str(text).split())
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _clamp_to_class(bpm: float, tempo_class: str, vocab: Vocab) -> float:
    """The BPM nearest to ``bpm`` inside ``tempo_class`` (bounds from the vocabulary)."""
    if tempo_class == "slow":
        return min(bpm, vocab.slow_max - 1)
    if tempo_class == "medium":
        return min(max(bpm, vocab.slow_max), vocab.medium_max - 1)
    if tempo_class == "fast":
        return max(bpm, vocab.medium_max)
    return bpm


def _union(first: tuple[str, ...], second: tuple[str, ...], limit: int) -> tuple[str, ...]:
    out = list(dict.fromkeys(first))
    out += [w for w in second if w not in out]
    return tuple(out[: max(limit, len(first))])


def merge(
    pixels: MusicDescription | None,
    words: MusicDescription | None,
    vocab: Vocab | None = None,
) -> MusicDescription:
    """Merge a description inferred from visuals with one parsed from the user's text.

    See the module docstring for the rule. Either side may be ``None``; with only ``words`` the
    user's text is kept as ``text`` unchanged.
    """
    vocab = vocab or load_vocab()
    if words is None or not words.text.strip() and not has_fields(words):
        if pixels is None:
            return MusicDescription()
        return pixels
    if pixels is None:
        return words

    def pick(name: str):
        mine = getattr(words, name)
        return mine if mine is not None else getattr(pixels, name)

    tempo_bpm, tempo_class = words.tempo_bpm, words.tempo_class
    if tempo_bpm is not None:
        tempo_class = vocab.tempo_class(tempo_bpm)
    elif tempo_class is not None:
        if pixels.tempo_bpm is not None:
            tempo_bpm = _clamp_to_class(pixels.tempo_bpm, tempo_class, vocab)
    else:
        tempo_bpm, tempo_class = pixels.tempo_bpm, pixels.tempo_class

    merged = MusicDescription(
        genre=pick("genre"),
        mood=consistent_moods([*words.mood, *pixels.mood], max(MAX_MOODS, len(words.mood))),
        instruments=_union(words.instruments, pixels.instruments, MAX_INSTRUMENTS),
        tempo_bpm=tempo_bpm,
        tempo_class=tempo_class,
        key=pick("key"),
        mode=pick("mode"),
        energy=pick("energy"),
        theme=pick("theme"),
        source="+".join(s for s in (pixels.source, words.source) if s),
    )
    # provenance: a field is stated when its value is the user's (pixels' values never are)
    merged = merged.replace(stated=tuple(
        n for n in FIELDS
        if merged.is_stated(n) and words.is_stated(n) and getattr(merged, n) == getattr(words, n)
    ))
    inferred = write_sentence(merged) if has_fields(pixels) else pixels.text.strip()
    text = " ".join(t for t in (_sentence_case(words.text), inferred) if t)
    return merged.replace(text=text)


@functools.lru_cache(maxsize=2)
def mood_antonyms() -> frozenset[frozenset[str]]:
    """The contradicting mood pairs of ``configs/vocab.yaml`` (``mood_antonyms``)."""
    data = yaml.safe_load((configs_dir() / "vocab.yaml").read_text(encoding="utf-8")) or {}
    return frozenset(frozenset(str(w) for w in pair) for pair in data.get("mood_antonyms") or ())


def contradicts(mood: str, others: Sequence[str]) -> bool:
    """Whether ``mood`` contradicts any of ``others``."""
    pairs = mood_antonyms()
    return any(frozenset((mood, other)) in pairs for other in others)


def consistent_moods(moods: Sequence[str], limit: int = MAX_MOODS) -> tuple[str, ...]:
    """``moods`` in order without repeats and without any that contradicts an earlier one."""
    out: list[str] = []
    for mood in moods:
        if mood not in out and not contradicts(mood, out):
            out.append(mood)
    return tuple(out[:limit])


def summarise(
    parts: Sequence[tuple[MusicDescription, float]], vocab: Vocab | None = None,
    min_bpm: float = 64.0, max_bpm: float = 152.0,
) -> MusicDescription:
    """One consistent description of several parts ``(description, length)`` (rules 7-9 of the
    module docstring). One part is returned as it is."""
    vocab = vocab or load_vocab()
    parts = [(d, max(float(w), 1e-6)) for d, w in parts]
    if not parts:
        return MusicDescription()
    if len(parts) == 1:
        return parts[0][0]
    # Equal parts (one scene split by a marker or a cue that changes nothing) count together.
    totals: list[list] = []
    for d, w in parts:
        same = next((t for t in totals if t[0] == d), None)
        if same is None:
            totals.append([d, w])
        else:
            same[1] += w
    lead = max(totals, key=lambda p: p[1])[0]  # max() keeps the first of equals
    energies = [(d.energy, w) for d, w in parts if d.energy is not None]
    energy = lead.energy
    if energies:
        energy = round(sum(e * w for e, w in energies) / sum(w for _, w in energies), 3)
    everywhere = [m for d, _ in parts for m in d.mood]
    moods = consistent_moods(
        [m for m in (*lead.mood, *everywhere) if not contradicts(m, everywhere)]
    )
    bpm, tempo_class = lead.tempo_bpm, lead.tempo_class
    if energy is not None and lead.tempo_bpm is not None:
        bpm = float(round(min_bpm + energy * (max_bpm - min_bpm)))
        tempo_class = vocab.tempo_class(bpm)
    theme = lead.theme if all(d.theme == lead.theme for d, _ in parts) else None
    stated = lead.stated
    if stated is not None and bpm != lead.tempo_bpm:
        stated = tuple(n for n in stated if n not in ("tempo_bpm", "tempo_class"))
    merged = lead.replace(mood=moods, energy=energy, tempo_bpm=bpm, tempo_class=tempo_class,
                          theme=theme, stated=stated,
                          text="", sections=(), cuts=(), energy_curve=())  # fmt: skip
    return merged.replace(text=write_sentence(merged))


def _clamp_bpm(bpm: float | None, tempo_class: str, vocab: Vocab) -> float | None:
    return None if bpm is None else _clamp_to_class(bpm, tempo_class, vocab)


def _want_moods(moods: Sequence[str], want: str) -> tuple[str, ...]:
    return consistent_moods([want, *moods])


def apply_wants(
    description: MusicDescription, wants: Wants | None, vocab: Vocab | None = None
) -> MusicDescription:
    """``description`` with the user's targeted attributes put in (see the module docstring);
    the sentence is written again when the description has fields of its own."""
    if not wants:
        return description
    vocab = vocab or load_vocab()
    d = description
    changes: dict = {}
    if wants.mood:
        changes["mood"] = _want_moods(d.mood, wants.mood)
    if wants.genre:
        changes["genre"] = wants.genre
    if wants.tempo:
        changes["tempo_class"] = wants.tempo
        changes["tempo_bpm"] = _clamp_bpm(d.tempo_bpm, wants.tempo, vocab)
    if wants.instrument:
        changes["instruments"] = tuple(dict.fromkeys((wants.instrument, *d.instruments)))
    if wants.key:
        changes["key"] = wants.key
    if wants.mode:
        changes["mode"] = wants.mode
    sections = []
    for i, section in enumerate(d.sections):
        update: dict = {}
        if wants.mood:
            update["mood"] = _want_moods(section.mood, wants.mood)
        if wants.genre and section.genre:
            update["genre"] = wants.genre
        if wants.tempo and section.tempo_class:
            update["tempo_class"] = wants.tempo
        if update:
            section = section.replace(**update)
            section = section.replace(text=section_sentence(section, i, len(d.sections)))
        sections.append(section)
    if d.stated is not None:  # a want is the user's own value
        wanted = [n for n in changes if n != "tempo_bpm"]
        changes["stated"] = tuple(dict.fromkeys((*d.stated, *wanted)))
    out = d.replace(**changes, sections=tuple(sections))
    if not set(changes) - {"stated"}:
        return out
    return out.replace(text=rewrite_text(d, out))


def rewrite_text(old: MusicDescription, new: MusicDescription) -> str:
    """The text of ``new``: the user's own words of ``old`` kept, the inferred sentence and the
    timeline written again from the fields."""
    user = ""
    if "text" in old.source.split("+"):
        inferred = write_sentence(old.replace(text="", sections=()))
        user = old.text.split(inferred)[0].strip() if inferred and inferred in old.text else ""
    body = write_sentence(new)
    timeline = timeline_sentence(new.sections)
    return " ".join(t for t in (user, body, timeline) if t)


def _mmss(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}".rstrip("0").rstrip(".")
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}".replace(".0", "")


def section_sentence(section: Section, index: int, total: int) -> str:
    """A short phrase for one section: "a calm and dark opening, slow, with low energy"."""
    role = "passage"
    if total > 1 and index == 0:
        role = "opening"
    elif total > 1 and index == total - 1:
        role = "ending"
    moods = _join(list(section.mood[:MAX_MOODS]))
    head = f"{moods} {role}" if moods else role
    parts = [f"{_article(head).lower()} {head}"]
    if section.genre and section.instruments:
        parts.append(f" ({section.genre}, {_join(list(section.instruments[:MAX_INSTRUMENTS]))})")
    elif section.genre or section.instruments:
        parts.append(f" ({section.genre or _join(list(section.instruments[:MAX_INSTRUMENTS]))})")
    extras = []
    if section.tempo_class:
        extras.append(f"{section.tempo_class} tempo")
    if section.energy is not None:
        extras.append(f"{energy_word(section.energy)} energy")
    if extras:
        parts.append(", " + " and ".join(extras))
    return "".join(parts)


def timeline_sentence(sections: Sequence[Section]) -> str:
    """"0–8 s: a calm, dark opening …; 8–16 s: an energetic … ending." ("" for fewer than two
    sections: the global sentence already says it all)."""
    if len(sections) < 2:
        return ""
    items = [
        f"{_mmss(s.start_s)}\u2013{_mmss(s.end_s)} s: {s.text or section_sentence(s, i, len(sections))}"
        for i, s in enumerate(sections)
    ]
    return "; ".join(items) + "."


__all__ = ["FIELDS", "MAX_INSTRUMENTS", "MAX_MOODS", "apply_wants", "consistent_moods", "contradicts",
           "energy_word", "has_fields", "merge", "mood_antonyms", "section_sentence",
           "summarise", "timeline_sentence", "write_sentence"]  # fmt: skip
