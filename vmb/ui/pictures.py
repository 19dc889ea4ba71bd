"""Pictures the page shows, drawn with matplotlib (its object API, no pyplot state, so two
requests can draw at once):

* :func:`timeline_png` (step 2): the video's frames (or the images) as a film strip along a time
  axis, the description's sections as bands coloured by their energy and labelled, the cuts as
  marks, and the energy curve;
* :func:`music_png` (step 3): the music's waveform and spectrogram with the section boundaries
  and the bars marked;
* :func:`reference_excerpt`: a short excerpt of a reference to listen to.

Each picture comes back as a :class:`Picture`: the PNG and where its time axis lies in it, in
pixels, so a test (or a page script) can find a time in the picture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vmb.types import Clip, MusicDescription, Section

EXCERPT_S = 8.0
DPI = 100
WIDTH_IN = 10.0
LEFT, RIGHT = 0.06, 0.985  # the time axis, as fractions of the picture's width
NO_ENERGY = (0.86, 0.86, 0.86)  # a section without an energy is grey
CUT_COLOUR = "#d6006f"
MARKER_COLOUR = "#1f4fd6"
SECTION_MARK_COLOUR = "#111111"
BAR_COLOUR = "#d62728"
MAX_THUMBS = 24
SPECTROGRAM_MIN_HZ, SPECTROGRAM_MAX_HZ = 40.0, 8000.0  # a log-frequency axis
SPECTROGRAM_ROWS = 160  # about the picture's height of the spectrogram


@dataclass(frozen=True)
class Picture:
    """A PNG and its geometry: pixel column ``x0`` is 0 s and ``x1`` is ``duration_s``;
    ``rows`` maps each strip (``frames``, ``sections``, ``waveform``, ``spectrogram``) to its
    ``(top, bottom)`` pixel rows. Pixels count from the picture's top left corner."""

    path: str
    width: int
    height: int
    duration_s: float
    x0: float
    x1: float
    rows: dict[str, tuple[float, float]] = field(default_factory=dict)
    max_hz: float | None = None  # the spectrogram's top row

    def x_of(self, time_s: float) -> float:
        """The pixel column of ``time_s`` seconds."""
        return self.x0 + (self.x1 - self.x0) * float(time_s) / self.duration_s

    def y_of_hz(self, hz: float) -> float:
        """The pixel row of ``hz`` in the spectrogram (a log-frequency axis)."""
        top, bottom = self.rows["spectrogram"]
        span = np.log(float(self.max_hz) / SPECTROGRAM_MIN_HZ)
        return bottom - (bottom - top) * float(np.log(float(hz) / SPECTROGRAM_MIN_HZ) / span)


def energy_colour(energy: float | None) -> tuple[float, float, float]:
    """A section band's colour (RGB 0..1): pale yellow for calm, deep red for intense."""
    if energy is None:
        return NO_ENERGY
    from matplotlib import colormaps

    r, g, b, _ = colormaps["YlOrRd"](0.08 + 0.8 * min(1.0, max(0.0, float(energy))))
    return (r, g, b)


def section_label(number: int, section: Section, wide: bool) -> str:
    """``"2 · calm, sad\\nenergy 0.35"`` for a wide band, ``"2"`` for a narrow one."""
    if not wide:
        return str(number)
    words = ", ".join(section.mood[:2]) or section.genre or section.tempo_class or ""
    energy = "" if section.energy is None else f"energy {section.energy:.2f}"
    cue = " (cue)" if "cue" in section.source else ""
    return "\n".join(t for t in (f"{number} · {words}{cue}".rstrip(" ·"), energy) if t)


def _figure(height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _axes(fig, bottom: float, height: float, duration: float):
    ax = fig.add_axes((LEFT, bottom, RIGHT - LEFT, height))
    ax.set_xlim(0.0, duration)
    ax.margins(0)
    return ax


def _save(fig, path: str | os.PathLike, duration: float, axes: dict, max_hz: float | None = None) -> Picture:
    from vmb.fileio import atomic_path

    width, height = (round(float(v)) for v in fig.get_size_inches() * DPI)
    rows = {}
    for name, ax in axes.items():
        _, y0, _, h = ax.get_position().bounds
        rows[name] = (height * (1.0 - (y0 + h)), height * (1.0 - y0))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    return Picture(str(path), width, height, float(duration), LEFT * width, RIGHT * width, rows, max_hz)


def _spans(count: int, start: float, end: float) -> list[tuple[float, float]]:
    step = (end - start) / max(count, 1)
    return [(start + k * step, start + (k + 1) * step) for k in range(count)]


def _slides(sections: Sequence[Section]) -> list[tuple[float, float]]:
    """The span of each slide: runs of sections from one image (``image:NAME``, ``image:NAME+cue``;
    a cue or marker may have split a slide into several sections)."""
    runs: list[list] = []
    for s in sections:
        name = s.source.split("+")[0]
        if not name.startswith("image:"):
            continue
        if runs and runs[-1][0] == name and abs(runs[-1][2] - s.start_s) < 1e-6:
            runs[-1][2] = s.end_s
        else:
            runs.append([name, s.start_s, s.end_s])
    return [(a, b) for _, a, b in runs]


def _thumbs(description: MusicDescription, duration: float, video, images: Sequence, strip_px: tuple[int, int]):
    """``(picture [H, W, 3], start_s, end_s)`` for the film strip: frames of the video over its
    slices of time (read through :func:`vmb.media.read_frames`), then each image over its
    slide's section (or an equal share of the time after the video)."""
    from vmb.media import probe, read_frames, read_image

    out = []
    width_px, height_px = strip_px
    video_end = 0.0
    if video is not None:
        info = probe(video)
        length = float(info.duration_s or duration)
        video_end = min(duration, length)
        aspect = (info.width or 16) / max(info.height or 9, 1)
        span_px = width_px * length / duration
        count = int(min(MAX_THUMBS, max(2, round(span_px / (height_px * aspect)))))
        frames, _ = read_frames(video, num_frames=count, max_side=160)
        # read_frames samples the centres of `count` equal slices of the whole video: each
        # thumbnail fills its slice (a part after a shorter music's end is cut off by the axis)
        out += [(f, a, b) for f, (a, b) in zip(frames, _spans(len(frames), 0.0, length), strict=True)]
    if images:
        slides = _slides(description.sections)
        spans = slides if len(slides) == len(images) else _spans(len(images), video_end, duration)
        for image, (a, b) in zip(images, spans, strict=True):
            if a < duration:
                out.append((read_image(image, max_side=240), a, min(b, duration)))
    return out


def timeline_png(
    description: MusicDescription,
    path: str | os.PathLike,
    video: str | os.PathLike | None = None,
    images: Sequence[str | os.PathLike] = (),
    duration_s: float | None = None,
) -> Picture:
    """Draw the timeline of ``description`` over the visuals and write a PNG to ``path``.

    Args:
        description: its ``sections`` (bands coloured by energy, labelled with number, moods and
            energy), ``cuts`` (magenta marks; a user's marker in blue) and ``energy_curve``
            (a black step line, one value per ``energy_step_s``).
        video, images: the visuals the description is of, drawn as a film strip along the time
            axis (none: no strip).
        duration_s: the time axis' length (default: the end of the last section, else the
            video's length).

    Raises:
        MediaError: a video or image that cannot be read.
    """
    duration = float(duration_s or description.duration_s or 0.0)
    if not duration and video is not None:
        from vmb.media import probe

        duration = float(probe(video).duration_s or 0.0)
    duration = duration or 1.0
    visuals = video is not None or bool(images)
    fig = _figure(3.6 if visuals else 2.2)
    axes = {}
    if visuals:
        frames_ax = _axes(fig, 0.56, 0.34, duration)
        bands_ax = _axes(fig, 0.14, 0.40, duration)
        axes["frames"] = frames_ax
        fig_w, fig_h = fig.get_size_inches() * DPI
        strip_px = (int(fig_w * (RIGHT - LEFT)), int(fig_h * 0.34))
        frames_ax.set_facecolor("#202020")
        for picture, a, b in _thumbs(description, duration, video, images, strip_px):
            frames_ax.imshow(picture, extent=(a, b, 0, 1), aspect="auto", interpolation="bilinear")
        frames_ax.set_xlim(0.0, duration)
        frames_ax.set_ylim(0, 1)
        frames_ax.set_yticks([])
        frames_ax.tick_params(labelbottom=False)
    else:
        bands_ax = _axes(fig, 0.24, 0.62, duration)
    axes["sections"] = bands_ax
    bands_ax.set_ylim(0, 1)
    bands_ax.set_ylabel("energy", fontsize=8)
    bands_ax.set_xlabel("time (s)", fontsize=8)
    bands_ax.tick_params(labelsize=8)
    width_px = fig.get_size_inches()[0] * DPI * (RIGHT - LEFT)
    for number, section in enumerate(description.sections, start=1):
        bands_ax.axvspan(section.start_s, section.end_s, color=energy_colour(section.energy), lw=0)
        if number > 1:
            bands_ax.axvline(section.start_s, color="white", lw=1.5)
        wide = (section.end_s - section.start_s) / duration * width_px >= 80
        bands_ax.text((section.start_s + section.end_s) / 2, 0.93, section_label(number, section, wide),
                      ha="center", va="top", fontsize=8, clip_on=True,
                      bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})  # fmt: skip
    curve = list(description.energy_curve)
    if curve:
        step = float(description.energy_step_s or 1.0)
        times = [min(duration, k * step) for k in range(len(curve))] + [min(duration, len(curve) * step)]
        bands_ax.step(times, [*curve, curve[-1]], where="post", color="black", lw=1.4, label="energy curve")
    for cut in description.cuts:
        colour = MARKER_COLOUR if cut.kind == "marker" else CUT_COLOUR
        style = "--" if cut.kind == "gradual" else "-"
        if visuals:
            axes["frames"].axvline(cut.time_s, color=colour, lw=2, ls=style)
        bands_ax.plot([cut.time_s], [1.0], marker="v", color=colour, ms=7, clip_on=False)
    markers = sum(c.kind == "marker" for c in description.cuts)
    title = (f"{len(description.sections)} section(s), {len(description.cuts) - markers} cut(s)"
             f"{f', {markers} marker(s)' if markers else ''}, sync {description.sync or 'cuts'}"
             " · bands: energy colour · black line: energy curve · ▼ cuts")  # fmt: skip
    fig.suptitle(title, fontsize=9, x=RIGHT, y=0.985, ha="right")
    return _save(fig, path, duration, axes)


def _spectrogram(mono: np.ndarray, sr: int, columns: int, n_fft: int = 2048) -> tuple[np.ndarray, float]:
    """``[R, T]`` power in dB on a log-frequency axis: :data:`SPECTROGRAM_ROWS` bands from
    :data:`SPECTROGRAM_MIN_HZ` to :data:`SPECTROGRAM_MAX_HZ` (or Nyquist), each the loudest FFT bin
    in it (so a pure tone is never skipped), at most ``columns`` frames; and the top frequency."""
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    hop = max(256, (len(mono) - n_fft) // max(columns, 1) + 1)
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    max_hz = min(sr / 2, SPECTROGRAM_MAX_HZ)
    edges = np.geomspace(SPECTROGRAM_MIN_HZ, max_hz, SPECTROGRAM_ROWS + 1) * n_fft / sr  # in bins
    lows = np.floor(edges[:-1]).astype(int)
    highs = np.maximum(np.ceil(edges[1:]).astype(int), lows + 1)
    bands = np.stack([spectrum[:, lo:hi].max(axis=1) for lo, hi in zip(lows, highs, strict=True)])
    return 10 * np.log10(bands + 1e-10), max_hz


def music_png(
    audio: np.ndarray,
    sample_rate: int,
    path: str | os.PathLike,
    sections: Sequence[Section] = (),
    bars_s: Sequence[float] = (),
) -> Picture:
    """Draw ``audio`` ``[C, T]`` as a waveform (min/max envelope) over a spectrogram (dB, up to
    8 kHz, log frequency), with a dashed line and the section's number at each section's start and a red tick
    at each bar (``bars_s``); write a PNG to ``path``."""
    mono = np.asarray(audio, dtype=np.float32).reshape(-1, np.shape(audio)[-1]).mean(axis=0)
    duration = len(mono) / float(sample_rate) if len(mono) else 1.0
    fig = _figure(4.0)
    wave_ax = _axes(fig, 0.60, 0.30, duration)
    spec_ax = _axes(fig, 0.12, 0.44, duration)
    columns = int(fig.get_size_inches()[0] * DPI * (RIGHT - LEFT))
    if len(mono):
        chunks = np.array_split(mono, min(columns, len(mono)))
        lows = np.array([c.min() for c in chunks])
        highs = np.array([c.max() for c in chunks])
        times = np.linspace(0.0, duration, len(chunks))
        wave_ax.fill_between(times, lows, highs, color="#3c5ac8", lw=0)
    wave_ax.set_ylim(-1.05, 1.05)
    wave_ax.set_yticks([-1, 0, 1])
    wave_ax.tick_params(labelbottom=False, labelsize=8)
    wave_ax.set_ylabel("waveform", fontsize=8)
    power, max_hz = _spectrogram(mono, sample_rate, columns)
    floor = power.max() - 70.0
    spec_ax.imshow(np.maximum(power, floor), origin="lower", aspect="auto", cmap="magma",
                   extent=(0.0, duration, 0.0, 1.0), interpolation="nearest")  # fmt: skip
    spec_ax.set_xlim(0.0, duration)
    ticks = [hz for hz in (50, 100, 250, 500, 1000, 2000, 4000, 8000) if SPECTROGRAM_MIN_HZ <= hz <= max_hz]
    span = np.log(max_hz / SPECTROGRAM_MIN_HZ)
    spec_ax.set_yticks([float(np.log(hz / SPECTROGRAM_MIN_HZ) / span) for hz in ticks])
    spec_ax.set_yticklabels([f"{hz // 1000}k" if hz >= 1000 else str(hz) for hz in ticks])
    spec_ax.set_ylabel("Hz", fontsize=8)
    spec_ax.set_xlabel("time (s)", fontsize=8)
    spec_ax.tick_params(labelsize=8)
    for bar in bars_s:
        if 0 < bar < duration:
            wave_ax.plot([bar, bar], [0.85, 1.05], color=BAR_COLOUR, lw=1.5)
    for number, section in enumerate(sections, start=1):
        if 0 < section.start_s < duration:
            for ax in (wave_ax, spec_ax):
                ax.axvline(section.start_s, color=SECTION_MARK_COLOUR if ax is wave_ax else "white",
                           lw=1.5, ls="--")  # fmt: skip
        if section.start_s < duration:
            wave_ax.text(section.start_s, 1.08, f" {number}", fontsize=8, va="bottom", ha="left",
                         transform=wave_ax.get_xaxis_transform())  # fmt: skip
    fig.suptitle("waveform and spectrogram · dashed lines: sections (numbered as in step 2) · red ticks: bars",
                 fontsize=9, x=RIGHT, y=0.99, ha="right")  # fmt: skip
    return _save(fig, path, duration, {"waveform": wave_ax, "spectrogram": spec_ax}, max_hz)


def reference_excerpt(clip: Clip, index_folder: str | os.PathLike | None, out: str | os.PathLike) -> str:
    """Up to :data:`EXCERPT_S` seconds of the clip a reference points at, as a wav file."""
    from vmb.media import read_audio, write_wav

    source = Path(clip.path)
    if not source.is_absolute() and index_folder is not None:
        source = Path(index_folder) / source
    audio, sr = read_audio(source, start_s=float(clip.start_s), duration_s=min(float(clip.duration_s), EXCERPT_S))
    write_wav(out, audio, sr)
    return str(out)
