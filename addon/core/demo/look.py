"""The demo avatar's looks, as numpy: body-part classes, the texture atlas and the shape-key deltas.

The texture is an atlas of vertical strips, one per body-part class; each face takes the strip of
its part, so no face stretches across two colours.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

PARTS: Final[tuple[str, ...]] = ("shoes", "trousers", "shirt", "skin", "head", "eye")
_PART_OF_BONE_PREFIX: Final[tuple[tuple[str, str], ...]] = (
    ("Foot", "shoes"),
    ("Toes", "shoes"),
    ("UpperLeg", "trousers"),
    ("LowerLeg", "trousers"),
    ("Hips", "trousers"),
    ("Spine", "shirt"),
    ("Chest", "shirt"),
    ("UpperChest", "shirt"),
    ("Shoulder", "shirt"),
    ("UpperArm", "shirt"),
    ("Head", "head"),
    ("Eye", "eye"),
)
_COLOURS: Final[dict[str, tuple[float, float, float]]] = {
    "shoes": (0.09, 0.07, 0.06),
    "trousers": (0.09, 0.13, 0.27),
    "shirt": (0.05, 0.42, 0.47),
    "skin": (0.86, 0.62, 0.5),
    "head": (0.86, 0.62, 0.5),
    "eye": (0.93, 0.93, 0.92),
}
_HAIR: Final = (0.2, 0.11, 0.06)
_IRIS: Final = (0.12, 0.2, 0.32)
_LIPS: Final = (0.66, 0.3, 0.3)
# Inside a strip only this fraction is used, so texture filtering never bleeds the next strip's colour.
_STRIP_FILL: Final = 0.8


def part_of_bone(bone_name: str) -> str:
    """The body-part class a demo bone's flesh is coloured as (forearms, hands and neck are skin)."""
    for prefix, part in _PART_OF_BONE_PREFIX:
        if bone_name.startswith(prefix):
            return part
    return "skin"


def strip_uv(part_index: npt.NDArray[np.int64], u: FloatArray, v: FloatArray) -> FloatArray:
    """Atlas UVs for per-loop (part, u, v) with u and v in 0..1 inside the part's strip."""
    width = 1.0 / len(PARTS)
    margin = (1.0 - _STRIP_FILL) / 2.0
    out = np.empty((len(u), 2), dtype=np.float64)
    out[:, 0] = (part_index + margin + np.clip(u, 0.0, 1.0) * _STRIP_FILL) * width
    out[:, 1] = margin + np.clip(v, 0.0, 1.0) * _STRIP_FILL
    return out


def texture(size: int) -> FloatArray:
    """RGBA pixels (size, size, 4), row 0 at the bottom as Blender stores them."""
    img = np.ones((size, size, 4), dtype=np.float64)
    width = size // len(PARTS)
    coords = (np.arange(size) + 0.5) / size
    margin = (1.0 - _STRIP_FILL) / 2.0
    v = np.clip((coords - margin) / _STRIP_FILL, 0.0, 1.0)[:, None]  # rows
    for index, part in enumerate(PARTS):
        start = index * width
        stop = size if index == len(PARTS) - 1 else start + width
        local = (coords[start:stop] * len(PARTS) - index - margin) / _STRIP_FILL
        u = np.clip(local, 0.0, 1.0)[None, :]
        block = np.broadcast_to(np.array(_COLOURS[part]), (size, stop - start, 3)).copy()
        if part == "head":
            _paint_face(block, u, v)
        elif part == "eye":
            iris = ((u - 0.5) / 0.13) ** 2 + ((v - 0.5) / 0.22) ** 2 < 1.0
            block[iris] = _IRIS
        img[:, start:stop, :3] = block
    return img


def _paint_face(block: FloatArray, u: FloatArray, v: FloatArray) -> None:
    """Hair, brows and lips on the head strip (u: angle around the head, 0.5 = front; v: height)."""
    front = np.abs(u - 0.5)
    hair = (v > 0.74) | ((v > 0.4) & (front > 0.2)) | ((v > 0.68) & (front > 0.08))
    block[np.broadcast_to(hair, block.shape[:2])] = _HAIR
    for side in (-1.0, 1.0):
        brow = (np.abs(v - 0.625) < 0.012) & (np.abs(u - 0.5 - side * 0.055) < 0.03)
        block[np.broadcast_to(brow, block.shape[:2])] = _HAIR
    lips = ((u - 0.5) / 0.045) ** 2 + ((v - 0.36) / 0.018) ** 2 < 1.0
    block[np.broadcast_to(lips, block.shape[:2])] = _LIPS


SHAPE_KEYS: Final[tuple[str, ...]] = (
    "aa", "ih", "ou", "ee", "oh",
    "blink", "blinkLeft", "blinkRight",
    "happy", "angry", "sad", "relaxed", "surprised",
)  # fmt: skip


def shape_key_deltas(
    co: FloatArray, mouth_centre: FloatArray, eyes: tuple[FloatArray, FloatArray], eye_mask: npt.NDArray[np.bool_]
) -> dict[str, FloatArray]:
    """Per shape key, an (N, 3) offset from the basis: mouth and eye regions moved by smooth falloffs."""
    rel_m = co - mouth_centre
    near_mouth = np.exp(-np.einsum("ij,ij->i", rel_m, rel_m) / (2 * 0.022**2)) * ~eye_mask
    below = (rel_m[:, 2] < 0).astype(np.float64)
    corners = np.clip(np.abs(rel_m[:, 0]) / 0.03, 0.0, 1.0)

    def lids(side: int | None, amount: float) -> FloatArray:
        d = np.zeros_like(co)
        for i, centre in enumerate(eyes):
            if side is not None and side != i:
                continue
            rel = co - centre
            in_eye = eye_mask & (np.einsum("ij,ij->i", rel, rel) < 0.03**2)
            d[in_eye, 2] = -rel[in_eye, 2] * amount
        return d

    def mouth(dx: float = 0.0, dy: float = 0.0, jaw: float = 0.0, corner_lift: float = 0.0) -> FloatArray:
        d = np.zeros_like(co)
        d[:, 0] = rel_m[:, 0] * dx * near_mouth
        d[:, 1] = dy * near_mouth
        d[:, 2] = (-jaw * below + corner_lift * corners) * near_mouth
        return d

    return {
        "aa": mouth(jaw=0.018),
        "ih": mouth(dx=0.3, jaw=0.004),
        "ou": mouth(dx=-0.35, dy=-0.008, jaw=0.006),
        "ee": mouth(dx=0.25, jaw=0.008, corner_lift=0.003),
        "oh": mouth(dx=-0.2, dy=-0.004, jaw=0.014),
        "blink": lids(None, 0.9),
        "blinkLeft": lids(0, 0.9),
        "blinkRight": lids(1, 0.9),
        "happy": mouth(dx=0.15, corner_lift=0.008) + lids(None, 0.35),
        "angry": mouth(dx=-0.1, corner_lift=-0.004) + lids(None, 0.25),
        "sad": mouth(corner_lift=-0.007) + lids(None, 0.2),
        "relaxed": mouth(corner_lift=0.003) + lids(None, 0.5),
        "surprised": mouth(dx=-0.1, jaw=0.016) + lids(None, -0.25),
    }
