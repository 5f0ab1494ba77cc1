"""Flow images by their magic bytes: one definition for the server, the client and the dashboards.

The old bedside clients upload their flow plot as JPEG (matplotlib
``savefig(format="jpg")``); our own stations may send PNG. An image is stored
as the bytes it came as, and its type is read from its first bytes, never
from a name or a claim in the request.

Examples
--------
>>> image_format(b"\\x89PNG\\r\\n\\x1a\\n" + b"rest"), image_format(b"\\xff\\xd8\\xff\\xe0" + b"rest")
('png', 'jpeg')
>>> image_format(b"GIF89a") is None
True
>>> media_type(b"\\xff\\xd8\\xff\\xdb")
'image/jpeg'
"""

from __future__ import annotations

from typing import Literal

__all__ = ["IMAGE_FORMATS", "image_format", "media_type"]

IMAGE_FORMATS = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}
"""Accepted image formats and the signature each file starts with."""


def image_format(data: bytes | None) -> str | None:
    """``"png"`` or ``"jpeg"`` by the signature ``data`` starts with, else None."""
    if not data:
        return None
    return next((name for name, signature in IMAGE_FORMATS.items() if data.startswith(signature)), None)


MediaType = Literal["image/png", "image/jpeg"]
MEDIA_TYPES: dict[str, MediaType] = {"png": "image/png", "jpeg": "image/jpeg"}
"""The MIME type of each of :data:`IMAGE_FORMATS`."""


def media_type(data: bytes | None) -> MediaType | None:
    """The MIME type (``image/png``, ``image/jpeg``) of ``data``, or None."""
    fmt = image_format(data)
    return None if fmt is None else MEDIA_TYPES[fmt]
