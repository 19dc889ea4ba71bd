"""Media I/O: probe files, read video frames, images and audio, write wav, mux music onto video.

Shapes: frames ``[N, H, W, 3]`` uint8 RGB, images ``[H, W, 3]`` uint8 RGB, audio ``[C, T]``
float32 with its sample rate. Every reader raises :class:`vmb.errors.MediaError` with the path
and a human reason for a file it cannot use.
"""

from vmb.media.audio import read_audio, resample, write_wav
from vmb.media.image import read_image
from vmb.media.mux import mux
from vmb.media.probe import MediaInfo, probe
from vmb.media.video import read_frames
from vmb.media.video_decord import VIDEO_BACKENDS, set_video_backend

__all__ = [
    "VIDEO_BACKENDS",
    "MediaInfo",
    "mux",
    "probe",
    "read_audio",
    "read_frames",
    "read_image",
    "resample",
    "set_video_backend",
    "write_wav",
]
