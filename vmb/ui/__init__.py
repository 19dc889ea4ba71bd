"""``vmb ui``: a web app (Gradio) where the two bridges can be seen, edited and heard before the
music is made.

* :mod:`vmb.ui.app`: the page's layout and :func:`launch`;
* :mod:`vmb.ui.callbacks`: what the buttons do, through :class:`vmb.pipeline.Pipeline`;
* :mod:`vmb.ui.state`: the bridges as page fields and the page's edits as bridges;
* :mod:`vmb.ui.uploads`: upload limits and type checks, removal of old files;
* :mod:`vmb.ui.pictures`: the timeline over the frames, waveform + spectrogram, reference excerpts.

Gradio is an optional extra: ``pip install 'vmb[ui]'``.
"""

from __future__ import annotations

from typing import Any


def launch(*args: Any, **kwargs: Any):
    """:func:`vmb.ui.app.launch` (imports Gradio only when called)."""
    from vmb.ui.app import launch as _launch

    return _launch(*args, **kwargs)


__all__ = ["launch"]
