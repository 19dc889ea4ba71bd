"""The built-in generator: a symbolic composer that follows both bridges, rendered with
FluidSynth (General MIDI soundfont) or a numpy synthesiser. No neural weights, no torch.

- :class:`BuiltinGenerator` — ``generate(bridges, duration_s, ...)`` → ``GenerationResult``
- :func:`render_midi` — any standard MIDI file (or an :class:`Arrangement`) → mastered audio
- :func:`write_midi` / :func:`read_midi` — standard MIDI files
- :func:`compose`, :func:`blend` — the composer and the documented blend of the two bridges
"""

from vmb.generate.builtin.arrangement import Arrangement, Note, NoteEvent, Section, Track
from vmb.generate.builtin.blend import Plan, blend, music_share
from vmb.generate.builtin.composer import compose
from vmb.generate.builtin.form import FormPlan, PlannedSection
from vmb.generate.builtin.generator import BuiltinGenerator
from vmb.generate.builtin.midi import read_midi, write_midi
from vmb.generate.builtin.reference import ReferenceFeatures, analyze_audio, analyze_reference
from vmb.generate.builtin.render import RendererChoice, choose_renderer, render_midi, render_parts
from vmb.generate.builtin.tables import ComposerTables, load_tables

__all__ = [
    "Arrangement",
    "BuiltinGenerator",
    "ComposerTables",
    "FormPlan",
    "Note",
    "NoteEvent",
    "Plan",
    "PlannedSection",
    "ReferenceFeatures",
    "RendererChoice",
    "Section",
    "Track",
    "analyze_audio",
    "analyze_reference",
    "blend",
    "choose_renderer",
    "compose",
    "load_tables",
    "music_share",
    "read_midi",
    "render_midi",
    "render_parts",
    "write_midi",
]
