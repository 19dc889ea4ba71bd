"""Read a still image as RGB, upright, and (when asked) small without decoding it large."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np

from vmb.errors import MediaError, UsageError
from vmb.media.checks import check_file, not_media_reason

# Transparent pixels are composited on this background. White, because transparent images
# (logos, stickers, screenshots of UI) are drawn to be seen on a light page.
BACKGROUND = (255, 255, 255)

# Pillow formats that are still images; Pillow also recognises a few video formats (MPEG,
# FLI) that belong to the video readers.
STILL_FORMATS = frozenset(
    {
        "BMP", "DIB", "GIF", "ICO", "JPEG", "JPEG2000", "MPO", "PCX", "PNG", "PPM", "SGI",
        "TGA", "TIFF", "WEBP", "XBM", "XPM", "QOI", "DDS", "ICNS", "PSD", "IM", "EPS",
    }
)  # fmt: skip


def open_image(path):
    """Open ``path`` with Pillow (header only) or raise :class:`MediaError`.

    Returns ``(image, over_limit)``; ``image`` is ``None`` if Pillow identifies a non-still
    format (video). ``over_limit`` is true for an image over ``PIL.Image.MAX_IMAGE_PIXELS``
    (but under twice that, where Pillow itself refuses).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise MediaError(path, bomb_reason(str(exc))) from None
    except UnidentifiedImageError:
        raise MediaError(path, not_media_reason(path, "image", "unknown image format")) from None
    except OSError as exc:
        raise MediaError(path, f"corrupt or truncated image: {exc}") from None
    for warning in caught:
        if not issubclass(warning.category, Image.DecompressionBombWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    over_limit = any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught)
    if image.format not in STILL_FORMATS:
        image.close()
        return None, False
    return image, over_limit


def bomb_reason(message: str) -> str:
    """The reason for an image over Pillow's decompression-bomb limit."""
    from PIL import Image

    match = re.search(r"\((\d+) pixels\)", message)
    pixels = f"{int(match.group(1)):,} pixels, " if match else ""
    return (
        f"image too large to decode safely ({pixels}limit {Image.MAX_IMAGE_PIXELS:,}; "
        "raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted)"
    )


def read_image(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """Read an image as it is meant to be seen: ``[H, W, 3]`` uint8 RGB.

    - EXIF orientation is applied (the array is upright).
    - Any mode becomes RGB: grey and palette images are expanded, CMYK converted, 16-bit and
      32-bit grey scaled to 8 bits, and transparent pixels composited on white
      (:data:`BACKGROUND`). Animated images give their first frame.
    - ``max_side`` bounds the longer side. JPEGs are then decoded at a reduced DCT scale
      (``Image.draft``), so a large photo is never decoded at full size; other formats are
      decoded once and reduced.

    Raises:
        MediaError: missing, empty, text or non-image file, corrupt or truncated image, or an
            image over Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``).
    """
    from PIL import Image, ImageOps

    if max_side is not None and max_side < 1:
        raise UsageError(f"read_image: max_side must be positive, got {max_side!r}")
    path = check_file(path)
    image, over_limit = open_image(path)
    if image is None:
        raise MediaError(path, "not an image file (it holds video)")
    if over_limit and not (image.format == "JPEG" and max_side is not None):
        # Only a JPEG read with max_side is decoded at a reduced (DCT) scale; others at full size.
        image.close()
        raise MediaError(path, bomb_reason(f"({image.size[0] * image.size[1]} pixels)"))
    with image:
        try:
            if max_side is not None and image.format == "JPEG":
                # draft() picks the smallest DCT scale (1/2, 1/4, 1/8) still >= the request.
                scale = max_side / max(image.size)
                if scale < 1:
                    request = (
                        max(1, int(image.size[0] * scale)),
                        max(1, int(image.size[1] * scale)),
                    )
                    image.draft(image.mode if image.mode in ("RGB", "L") else None, request)
            image.load()
            if max_side is not None and max(image.size) > max_side:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
            upright = ImageOps.exif_transpose(image)
            return to_rgb(upright)
        except MediaError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MediaError(path, f"corrupt or truncated image: {reason}") from None


def to_rgb(image) -> np.ndarray:
    """Any Pillow image as ``[H, W, 3]`` uint8 RGB (alpha composited on :data:`BACKGROUND`)."""
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy()
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        grey = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or (
            grey.min() >= 0 and grey.max() <= 65535 and grey.max() > 255
        ):
            grey = grey / 257.0
        elif grey.max() > 255 or grey.min() < 0:
            low, high = float(grey.min()), float(grey.max())
            grey = (grey - low) * (255.0 / (high - low)) if high > low else grey * 0
        grey8 = np.clip(np.round(grey), 0, 255).astype(np.uint8)
        return np.repeat(grey8[..., None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), np.uint8).copy()
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
