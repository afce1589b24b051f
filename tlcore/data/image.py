"""Safe decoding of one image into an RGB uint8 array.

Only an allow-list of formats is opened, the whole image is decoded (``open`` alone
is lazy and would hide truncation), decompression bombs are refused, and every mode
(grayscale, palette, alpha, 16-bit, CMYK) ends as (H, W, 3) uint8 RGB.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "GIF")
EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")

NOT_AN_IMAGE = "not an image"
CORRUPT = "corrupt or truncated image"

_EXIF_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


class ImageRejected(Exception):
    """An image could not be used; ``str(exc)`` is the reason shown to the user."""


def decode_image(data: bytes, max_side: int, max_pixels: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode image bytes into an RGB array no larger than ``max_side``.

    Call this inside :func:`bomb_guard` so Pillow's bomb warning is an error.

    Args:
        data: Raw file bytes.
        max_side: Longest side of the returned array; larger images are downscaled
            with their aspect ratio kept. Smaller images are never upscaled.
        max_pixels: Images with more pixels than this are refused.

    Returns:
        ``(array, (height, width))``: the uint8 array of shape (h, w, 3) and the
        original size after EXIF rotation, before any downscale.

    Raises:
        ImageRejected: Not a supported image, too large, or corrupt/truncated.
    """
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageRejected(f"image too large ({width} x {height} pixels)")
            orientation = im.getexif().get(_EXIF_ORIENTATION) if im.format == "JPEG" else None
            if orientation in _SWAPPING_ORIENTATIONS:
                width, height = height, width
            if im.format == "JPEG" and max(im.size) > 2 * max_side:
                im.draft("RGB", (max_side, max_side))
            im.load()
            if "exif" in im.info:
                im = ImageOps.exif_transpose(im)
            array = _to_rgb_array(im, max_side)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(match.group(1)):,} pixels" if match else "over the pixel limit"
        raise ImageRejected(f"image too large ({size})") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(NOT_AN_IMAGE) from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, MemoryError) as exc:
        raise ImageRejected(CORRUPT) from exc
    return array, (height, width)


def _to_rgb_array(im: Image.Image, max_side: int) -> np.ndarray:
    """Convert any Pillow mode to an (H, W, 3) uint8 array, downscaled to ``max_side``."""
    if im.mode in _SIXTEEN_BIT_MODES or im.mode in ("I", "F"):
        im = _wide_to_l(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    if max(im.size) > max_side:
        im = im.copy()
        im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    array = np.asarray(im, dtype=np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageRejected(CORRUPT)
    return np.ascontiguousarray(array)


def _wide_to_l(im: Image.Image) -> Image.Image:
    """Map 16-bit, 32-bit integer or float grayscale to 8-bit ``L`` by range, not by clipping."""
    values = np.asarray(im, dtype=np.float64)
    if im.mode in _SIXTEEN_BIT_MODES or (im.mode == "I" and values.size and values.max() > 255):
        values = values / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


class bomb_guard(warnings.catch_warnings):  # noqa: N801 - used like a function: ``with bomb_guard():``
    """Context manager: Pillow's bomb warning becomes an error and truncated images stay fatal."""

    def __enter__(self):
        result = super().__enter__()
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        self._load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        return result

    def __exit__(self, *exc_info):
        ImageFile.LOAD_TRUNCATED_IMAGES = self._load_truncated
        return super().__exit__(*exc_info)
