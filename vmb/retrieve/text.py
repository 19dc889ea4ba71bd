"""The targeted attributes appended to the text bridge.

``bridge_text(description, wants)`` returns the description sentence with every set
:class:`~vmb.types.Wants` attribute appended in plain words, in this order:

===========  =============================  ==========================================
want         phrase                         example
===========  =============================  ==========================================
genre        ``in the style of {genre}``    "..., in the style of jazz"
instrument   ``featuring {instrument}``     "..., featuring piano"
tempo        ``with {tempo}-paced tempo``   "..., with fast-paced tempo"
mood         ``with a {mood} mood``         "..., with a calm mood"
key + mode   ``in {key} {mode}``            "..., in D minor"
key          ``in the key of {key}``        "..., in the key of D"
mode         ``in a {mode} key``            "..., in a minor key"
===========  =============================  ==========================================

A phrase already present in the text is not appended twice, so applying it again changes
nothing.
"""

from __future__ import annotations

from vmb.types import MusicDescription, Wants


def want_phrases(wants: Wants | None) -> list[str]:
    """The phrases of the table above for the set attributes of ``wants``."""
    if not wants:
        return []
    phrases = []
    if wants.genre:
        phrases.append(f"in the style of {wants.genre}")
    if wants.instrument:
        phrases.append(f"featuring {wants.instrument}")
    if wants.tempo:
        phrases.append(f"with {wants.tempo}-paced tempo")
    if wants.mood:
        article = "an" if wants.mood[0] in "aeiou" else "a"
        phrases.append(f"with {article} {wants.mood} mood")
    if wants.key and wants.mode:
        phrases.append(f"in {wants.key} {wants.mode}")
    elif wants.key:
        phrases.append(f"in the key of {wants.key}")
    elif wants.mode:
        phrases.append(f"in a {wants.mode} key")
    return phrases


def description_text(description: MusicDescription | str | None) -> str:
    """The sentence of a description (its ``text``, else its fields joined), or the string."""
    if description is None:
        return ""
    if isinstance(description, str):
        return description.strip()
    if description.text.strip():
        return description.text.strip()
    parts = [*description.mood, description.genre or "", "music"]
    sentence = " ".join(p for p in parts if p).capitalize()
    if description.instruments:
        sentence += " with " + ", ".join(description.instruments)
    return sentence


def bridge_text(description: MusicDescription | str | None, wants: Wants | None = None) -> str:
    """The text bridge: the description sentence with the wanted attributes appended.

    >>> bridge_text("A calm piano piece.", Wants(tempo="fast", genre="jazz"))
    'A calm piano piece, in the style of jazz, with fast-paced tempo.'
    """
    text = description_text(description)
    low = text.lower()
    new = [p for p in want_phrases(wants) if p.lower() not in low]
    if not new:
        return text
    if not text:
        return "Music " + ", ".join(new) + "."
    return text.rstrip(".!? ") + ", " + ", ".join(new) + "."
