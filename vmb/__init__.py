"""vmb — Visuals Music Bridge: music for video, images and text.

A description model turns visuals into a music description (the text bridge), a dual-track
FAISS retriever fetches reference music (the music bridge), and a generator conditioned on
both writes the music.
"""

__version__ = "0.1.0"

from vmb.errors import (  # noqa: E402
    ConfigError,
    GenerationError,
    IndexFileError,
    MediaError,
    ModelUnavailable,
    UsageError,
    VMBError,
)
from vmb.lazy import lazy_exports  # noqa: E402
from vmb.types import (  # noqa: E402
    Bridges,
    Clip,
    ClipAttributes,
    GenerationResult,
    Hit,
    MediaInput,
    MusicDescription,
    Wants,
)

# The pipeline pulls in numpy/yaml/rich and, through its components, torch: load it on use.
__getattr__ = lazy_exports(__name__, {"Pipeline": "vmb.pipeline", "describe": "vmb.describe"})


__all__ = [
    "__version__",
    "Pipeline",
    "describe",
    "Bridges",
    "Clip",
    "ClipAttributes",
    "ConfigError",
    "GenerationError",
    "GenerationResult",
    "Hit",
    "IndexFileError",
    "MediaError",
    "MediaInput",
    "ModelUnavailable",
    "MusicDescription",
    "UsageError",
    "VMBError",
    "Wants",
]
