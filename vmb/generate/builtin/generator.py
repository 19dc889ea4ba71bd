"""The ``builtin`` profile's generator: compose from both bridges, then render."""

from __future__ import annotations

import os
import time

import numpy as np

from vmb.errors import ConfigError
from vmb.generate.builtin.arrangement import Arrangement
from vmb.generate.builtin.blend import Plan, blend
from vmb.generate.builtin.composer import compose
from vmb.generate.builtin.form import FormPlan, form_from_description
from vmb.generate.builtin.mastering import TARGET_LUFS
from vmb.generate.builtin.midi import write_midi
from vmb.generate.builtin.reference import analyze_reference
from vmb.generate.builtin.render import (
    DEFAULT_SAMPLE_RATE,
    RENDERERS,
    choose_renderer,
    render_parts,
)
from vmb.generate.builtin.screening import screen_references
from vmb.generate.builtin.tables import ComposerTables, load_tables
from vmb.limits import check_duration, check_weight, resolve_seed
from vmb.types import Bridges, GenerationResult

MIN_LUFS, MAX_LUFS = -40.0, -6.0


class BuiltinGenerator:
    """A symbolic composer that follows the text and music bridges, rendered with FluidSynth
    (General MIDI soundfont) or, where that is missing, a numpy synthesiser.

    Args:
        renderer: ``auto`` (FluidSynth when the executable and a soundfont are found),
            ``fluidsynth`` or ``numpy``.
        soundfont: an SF2/SF3 soundfont to use instead of the searched ones.
        sample_rate: output sample rate in Hz (48 kHz, the rate of video, by default).
        loudness_lufs: integrated loudness of the output (default -14 LUFS, true peak <= -1 dBTP).

    Raises:
        ConfigError: unknown renderer, bad sample rate or loudness, configured soundfont missing
            or not a soundfont.
        ModelUnavailable: ``renderer="fluidsynth"`` without the executable or a soundfont.
    """

    def __init__(self, renderer: str = "auto", soundfont: str | os.PathLike | None = None,
                 sample_rate: int = DEFAULT_SAMPLE_RATE, tables: ComposerTables | None = None,
                 loudness_lufs: float = TARGET_LUFS):
        if renderer not in RENDERERS:
            raise ConfigError(f"generator.renderer = {renderer!r} is not one of: {', '.join(RENDERERS)}")
        if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 96000:
            raise ConfigError(f"generator.sample_rate = {sample_rate!r}: use a rate from 8000 to 96000 Hz")
        if not isinstance(loudness_lufs, (int, float)) or not MIN_LUFS <= loudness_lufs <= MAX_LUFS:
            raise ConfigError(f"generator.loudness_lufs = {loudness_lufs!r}: use a loudness from {MIN_LUFS:g} "
                              f"to {MAX_LUFS:g} LUFS")
        self.sample_rate = sample_rate
        self.loudness_lufs = float(loudness_lufs)
        self.renderer = choose_renderer(renderer, soundfont)
        self.tables = tables or load_tables()

    @classmethod
    def from_config(cls, cfg) -> BuiltinGenerator:
        """From a :class:`vmb.config.Config` (``generator.renderer``, ``.soundfont``, ``.sample_rate``,
        ``.loudness_lufs``)."""
        g = cfg.generator
        return cls(renderer=g.renderer, soundfont=g.soundfont, sample_rate=g.sample_rate,
                   loudness_lufs=getattr(g, "loudness_lufs", TARGET_LUFS))

    @property
    def name(self) -> str:
        return f"builtin-composer+{self.renderer.name}"

    # -- planning and composing -------------------------------------------------------------

    def plan(self, bridges: Bridges, text_weight: float | None = None,
             music_weight: float | None = None) -> tuple[Plan, list[str]]:
        """Measure the references and blend them with the description. Returns the plan and
        notes about the references."""
        tw = bridges.text_weight if text_weight is None else text_weight
        mw = bridges.music_weight if music_weight is None else music_weight
        for label, w in (("text_weight", tw), ("music_weight", mw)):
            check_weight(w, label)
        notes = []
        features = [analyze_reference(h) for h in bridges.references]
        features, hits, dropped = screen_references(bridges.description, features, list(bridges.references),
                                                    self.tables)
        notes.extend(dropped)
        if features:
            notes.append("followed reference " + features[0].describe())
            if len(features) > 1:
                notes.append(f"{len(features) - 1} further reference(s) contribute their measured energy only")
        attributes = hits[0].clip.attributes if hits else None
        plan = blend(bridges.description, self.tables, features, attributes, bridges.wants, float(tw), float(mw))
        return plan, notes

    def compose(self, bridges: Bridges, duration_s: float, seed: int | None = None,
                text_weight: float | None = None, music_weight: float | None = None,
                form: FormPlan | None = None, loop: bool = False) -> Arrangement:
        """The arrangement :meth:`generate` would render (no audio)."""
        check_duration(duration_s)
        plan, _ = self.plan(bridges, text_weight, music_weight)
        form = self.form_for(bridges, duration_s, form, loop)
        return compose(plan, duration_s, resolve_seed(seed), self.tables, form=form, loop=loop)

    @staticmethod
    def form_for(bridges: Bridges, duration_s: float, form: FormPlan | None = None,
                 loop: bool = False) -> FormPlan | None:
        """The form to follow: ``form`` when given, else the description's timeline
        (:func:`~vmb.generate.builtin.form.form_from_description`; none for a loop or without a
        timeline: the automatic form)."""
        if form is not None or loop:
            return form
        return form_from_description(bridges.description, duration_s)

    # -- generating -----------------------------------------------------------------------------

    def generate(self, bridges: Bridges, duration_s: float, seed: int | None = None,
                 text_weight: float | None = None, music_weight: float | None = None,
                 midi_path: str | os.PathLike | None = None, stems_dir: str | os.PathLike | None = None,
                 loop: bool = False, form: FormPlan | None = None) -> GenerationResult:
        """Compose and render ``duration_s`` seconds of music from the bridges.

        Args:
            bridges: the description (text bridge) and references (music bridge).
            duration_s: exact length of the audio.
            seed: makes the music reproducible; ``None`` is :data:`vmb.limits.DEFAULT_SEED`.
            text_weight, music_weight: override the bridges' weights (see :mod:`.blend`).
            midi_path: also write the arrangement as a standard MIDI file here.
            stems_dir: also write one WAV per part here (``drums.wav``, ``bass.wav``,
                ``harmony.wav``, ``lead.wav``...); they sum to the mix.
            loop: a piece that repeats seamlessly (whole bars, the last leading into the first).
            form: the sections to follow (:class:`FormPlan`; default: the description's
                timeline when it has one, see :meth:`form_for`, else the automatic form).

        Returns:
            A :class:`GenerationResult` with ``audio [2, round(duration_s * sample_rate)]``.
        """
        check_duration(duration_s)
        seed = resolve_seed(seed)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        plan, notes = self.plan(bridges, text_weight, music_weight)
        timings["reference_analysis"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if loop and form is None and bridges.description.sections and bridges.description.sync != "off":
            notes.append("loop: the timeline's sections and cuts are not followed (a loop has no beginning or end)")
        form = self.form_for(bridges, duration_s, form, loop)
        arrangement = compose(plan, duration_s, seed, self.tables, form=form, loop=loop)
        timings["compose"] = time.perf_counter() - t0
        paths = {}
        if midi_path is not None:
            paths["midi"] = str(write_midi(arrangement, midi_path))
        t0 = time.perf_counter()
        audio, stems, sr, render_note = render_parts(arrangement, self.sample_rate, self.renderer,
                                                     length_s=duration_s, loudness_lufs=self.loudness_lufs,
                                                     stems=stems_dir is not None)
        timings["render"] = time.perf_counter() - t0
        if stems_dir is not None:
            paths.update(_write_stems(stems, sr, stems_dir))
        layout = " ".join(f"{s.name}({s.bars})" for s in arrangement.sections)
        notes = [
            render_note,
            (f"composed {arrangement.key} {arrangement.mode}, {arrangement.tempo_bpm:.1f} BPM, "
             f"{arrangement.genre}, energy {arrangement.energy:.2f}; form {layout or 'final chord only'}"
             f"{' (loop)' if loop else ''}; mastered to {self.loudness_lufs:g} LUFS, true peak <= -1 dBTP"),
            *notes,
            *(f"{k}: {v}" for k, v in arrangement.choices.items() if v),
        ]
        return GenerationResult(
            audio=audio,
            sample_rate=sr,
            bridges=bridges,
            generator=self.name,
            seed=seed,
            timings=timings,
            paths=paths,
            notes=tuple(notes),
        )


def _write_stems(stems: dict[str, np.ndarray], sr: int, folder: str | os.PathLike) -> dict[str, str]:
    """Write each stem as ``folder/<part>.wav``; returns ``{"stem:<part>": path}``. A stem
    that cannot be written removes the ones written before it."""
    from pathlib import Path

    from vmb.media import write_wav

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    try:
        for name, audio in stems.items():
            path = out / f"{name}.wav"
            write_wav(path, audio, sr)
            written[f"stem:{name}"] = str(path)
    except BaseException:
        for p in written.values():
            Path(p).unlink(missing_ok=True)
        raise
    return written


__all__ = ["BuiltinGenerator"]
