"""Long-form generation: windows of at most ``window_s`` seconds, joined with crossfades.

MusicGen was trained on 30 s windows. A longer piece is made window by window: the first
window is generated from scratch, every next one is prompted with the last ``overlap_s``
seconds of codes of the one before (codes, never re-encoded audio) and generates
``window_s − overlap_s`` new seconds. Each window's codes (prompt included) are decoded on
their own, and consecutive windows are joined with a linear crossfade over the prompt region,
where both hold the same codes. The result is trimmed to exactly ``round(duration_s · sr)``
samples.

    windows = plan_windows(total_frames=3500, window_frames=1500, overlap_frames=500)
    audio = crossfade_join([decode(w) for w in windows], windows, hop_length, total_samples)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """One generation window, in codec frames of the full piece.

    Attributes:
        index: position of the window, from 0.
        start_frame: first frame the window covers (its prompt included).
        prompt_frames: frames copied from the end of the previous window (0 for the first).
        new_frames: frames generated in this window.
    """

    index: int
    start_frame: int
    prompt_frames: int
    new_frames: int

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.prompt_frames + self.new_frames

    @property
    def num_frames(self) -> int:
        return self.prompt_frames + self.new_frames


def plan_windows(total_frames: int, window_frames: int, overlap_frames: int) -> list[Window]:
    """Cover ``total_frames`` with windows of at most ``window_frames`` frames.

    Raises:
        ValueError: non-positive sizes, or an overlap that leaves no room for new frames.
    """
    if total_frames < 1:
        raise ValueError(f"total_frames must be at least 1, got {total_frames}")
    if window_frames < 1:
        raise ValueError(f"window_frames must be at least 1, got {window_frames}")
    if not 0 <= overlap_frames < window_frames:
        raise ValueError(f"overlap_frames must be in [0, {window_frames}), got {overlap_frames}")
    windows = [Window(0, 0, 0, min(total_frames, window_frames))]
    done = windows[0].new_frames
    while done < total_frames:
        new = min(window_frames - overlap_frames, total_frames - done)
        windows.append(Window(len(windows), done - overlap_frames, overlap_frames, new))
        done += new
    return windows


def crossfade_join(
    segments: list[np.ndarray], windows: list[Window], hop_length: int, total_samples: int
) -> np.ndarray:
    """Join decoded windows into one ``[C, total_samples]`` float32 signal.

    Args:
        segments: window ``i`` decoded, ``[C, >= windows[i].num_frames · hop_length]``.
        windows: the plan the segments were made from.
        hop_length: samples per codec frame.
        total_samples: the exact length of the result (at most the frames' length).

    Where window ``i`` was prompted with ``p`` frames, the ``p · hop_length`` samples it shares
    with window ``i − 1`` fade linearly from the old window into the new one.
    """
    if len(segments) != len(windows) or not segments:
        raise ValueError(f"{len(segments)} segments for {len(windows)} windows")
    channels = segments[0].shape[0]
    length = windows[-1].end_frame * hop_length
    if total_samples > length:
        raise ValueError(
            f"total_samples {total_samples} exceeds the {length} samples of the windows"
        )
    out = np.zeros((channels, length), dtype=np.float32)
    for segment, window in zip(segments, windows):
        need = window.num_frames * hop_length
        if segment.shape[-1] < need:
            raise ValueError(f"window {window.index}: {segment.shape[-1]} samples, expected {need}")
        segment = segment[:, :need].astype(np.float32, copy=False)
        start = window.start_frame * hop_length
        fade = window.prompt_frames * hop_length
        if fade:
            # Sample midpoints, so that neither end of the ramp is exactly 0 or 1.
            ramp = ((np.arange(fade, dtype=np.float64) + 0.5) / fade).astype(np.float32)
            out[:, start : start + fade] = (
                out[:, start : start + fade] * (1.0 - ramp) + segment[:, :fade] * ramp
            )
        out[:, start + fade : start + need] = segment[:, fade:]
    return out[:, :total_samples]
