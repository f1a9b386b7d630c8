"""What a VRM's rendered thumbnail must show: the avatar, framed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from addon.core.vrm import glb


def thumbnail_pixels(vrm: Path) -> npt.NDArray[np.int16]:
    """The VRM 1.0 meta's thumbnail as an RGB array."""
    document, binary = glb.read(vrm.read_bytes())
    image = document["images"][document["extensions"]["VRMC_vrm"]["meta"]["thumbnailImage"]]
    with Image.open(io.BytesIO(glb.view_bytes(document, binary, image["bufferView"]))) as thumbnail:
        return np.asarray(thumbnail.convert("RGB"), dtype=np.int16)


def assert_shows_the_avatar(picture: npt.NDArray[np.int16]) -> None:
    """A figure over most of the frame's height (or width), in its middle, shaded and textured, on an even background
    (a lossy JPEG's background varies by a few levels)."""
    size = picture.shape[0]
    assert picture.shape == (size, size, 3)
    background = picture[0, 0]
    assert all((np.abs(picture[y, x] - background) <= 8).all() for y in (0, -1) for x in (0, -1))
    figure = np.abs(picture - background).sum(axis=2) > 24
    assert 0.03 < figure.mean() < 0.6
    rows, columns = np.nonzero(figure)
    # Most of the picture's height, or of its width for an avatar wider than tall (a robot's T-pose).
    assert max(rows.max() - rows.min(), columns.max() - columns.min()) > 0.6 * size, "the avatar fills the picture"
    assert abs((rows.min() + rows.max()) / 2 - size / 2) < 0.1 * size, "the avatar is in the picture's middle"
    assert abs((columns.min() + columns.max()) / 2 - size / 2) < 0.1 * size, "the avatar is in the picture's middle"
    shades = (picture[figure] // 16) @ np.array([256, 16, 1])  # each pixel's colour, 16 levels a channel
    assert len(np.unique(shades)) > 20, "shaded and textured, not a flat silhouette"
