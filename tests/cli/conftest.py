"""Fixtures of the command-line tests: the media, libraries and indexes of the stage tests they
drive through ``vmb`` (defined once, in those folders' conftest files)."""

from __future__ import annotations

from e2e.conftest import builtin_index, image_files, music_folder, reference_file, video_file, video_with_audio
from media.conftest import (
    av_mp4,
    counter_mp4,
    media_dir,
    stereo_wav,
    vp8_webm,
    vp9_webm,
)
from retrieve.conftest import _faiss_single_thread, builtin_encoder, library, library_index, make_library, make_track

__all__ = [
    "_faiss_single_thread",
    "av_mp4",
    "builtin_encoder",
    "builtin_index",
    "counter_mp4",
    "image_files",
    "library",
    "library_index",
    "make_library",
    "make_track",
    "media_dir",
    "music_folder",
    "reference_file",
    "stereo_wav",
    "video_file",
    "video_with_audio",
    "vp8_webm",
    "vp9_webm",
]
