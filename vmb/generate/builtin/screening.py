"""Screening the music bridge: a retrieved reference whose mood contradicts the description is
left out of the blend (it would pull tempo, harmony and energy the wrong way), and the notes say
so. Moods are compared on the valence/arousal axes of ``configs/composer.yaml`` (``mood_axes``);
a pinned reference is kept (the user asked for it) and the contradiction is noted.
"""

from __future__ import annotations

import numpy as np

from vmb.generate.builtin.reference import ReferenceFeatures
from vmb.generate.builtin.tables import ComposerTables
from vmb.types import Hit, MusicDescription

AROUSAL_APART = 1.0
VALENCE_APART = 1.2


def mood_point(moods, tables: ComposerTables) -> np.ndarray | None:
    """Mean ``[valence, arousal]`` of the moods the tables place (``None`` if none)."""
    pts = [tables.mood_axes[m] for m in moods if m in tables.mood_axes]
    return np.mean(pts, axis=0) if pts else None


def contradiction(description: MusicDescription, hit: Hit, tables: ComposerTables) -> str | None:
    """Why the hit's tagged mood contradicts the description's, or ``None``."""
    mine = mood_point(description.mood, tables)
    attrs = hit.clip.attributes
    theirs = mood_point(attrs.mood if attrs is not None else (), tables)
    if mine is None or theirs is None:
        return None
    dv, da = abs(mine[0] - theirs[0]), abs(mine[1] - theirs[1])
    if da >= AROUSAL_APART or dv >= VALENCE_APART:
        axis = "arousal" if da >= AROUSAL_APART else "valence"
        return (f"its mood ({', '.join(attrs.mood)}) contradicts the description's "
                f"({', '.join(description.mood)}) in {axis}")
    return None


def screen_references(description: MusicDescription, features: list[ReferenceFeatures], hits: list[Hit],
                      tables: ComposerTables) -> tuple[list[ReferenceFeatures], list[Hit], list[str]]:
    """The references the blend may follow, and notes about those left out or kept despite a
    contradiction. ``features`` and ``hits`` are parallel lists."""
    keep_f, keep_h, notes = [], [], []
    for f, h in zip(features, hits):
        why = contradiction(description, h, tables)
        if why is None:
            keep_f.append(f)
            keep_h.append(h)
        elif h.track == "pinned":
            keep_f.append(f)
            keep_h.append(h)
            notes.append(f"pinned reference {f.label}: {why}; followed anyway (pinned), stated values still win")
        else:
            notes.append(f"reference {f.label} left out of the blend: {why}")
    return keep_f, keep_h, notes
