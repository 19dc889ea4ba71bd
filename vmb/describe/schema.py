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
   already named (at most :data:`MAX_MOODS` moods and :data:`MAX_INSTRUMENTS` instruments).
4. **Tempo**: a BPM in the text wins and sets the class. A tempo *class* in the text alone
   ("fast") keeps the inferred BPM if it lies in that class, else moves it to the nearest BPM
   inside the class.
5. **Key and mode** are separate fields: "in D" keeps the inferred mode, "minor" alone keeps the
   inferred key.
6. **The sentence** is written again from the merged fields, after the user's own text, which
   is kept word for word. (If the describer returned free text without fields, that text is
   kept instead of a new sentence.)

``source`` names both parts, e.g. ``visual+text``.
"""

from __future__ import annotations

from vmb.types import MusicDescription
from vmb.vocab import Vocab, load_vocab

MAX_MOODS = 3
MAX_INSTRUMENTS = 5

_FIELDS = (
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
    return any(getattr(description, name) not in (None, ()) for name in _FIELDS)


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
    if d.key and d.mode:
        parts.append(f" in {d.key} {d.mode}")
    elif d.key:
        parts.append(f" in the key of {d.key}")
    elif d.mode:
        parts.append(f" in a {d.mode} key")
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
        mood=_union(words.mood, pixels.mood, MAX_MOODS),
        instruments=_union(words.instruments, pixels.instruments, MAX_INSTRUMENTS),
        tempo_bpm=tempo_bpm,
        tempo_class=tempo_class,
        key=pick("key"),
        mode=pick("mode"),
        energy=pick("energy"),
        theme=pick("theme"),
        source="+".join(s for s in (pixels.source, words.source) if s),
    )
    inferred = write_sentence(merged) if has_fields(pixels) else pixels.text.strip()
    text = " ".join(t for t in (_sentence_case(words.text), inferred) if t)
    return merged.replace(text=text)


__all__ = ["MAX_INSTRUMENTS", "MAX_MOODS", "energy_word", "has_fields", "merge", "write_sentence"]
