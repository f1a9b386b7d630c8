"""The auto-rig's data: bare meshes in, a humanoid skeleton plan out (plain data, no bpy)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..rig.model import FloatArray, IntArray

Matrix4 = tuple[
    tuple[float, float, float, float],
    tuple[float, float, float, float],
    tuple[float, float, float, float],
    tuple[float, float, float, float],
]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class MeshPart:
    """One mesh object (body, clothes, hair, eyes, teeth, glasses) in its rest shape.

    `vertices` is (N, 3) float64 in world coordinates, Blender axes (+Z up); `triangles` is (M, 3) int64
    indices into `vertices`.
    """

    name: str
    vertices: FloatArray
    triangles: IntArray


@dataclass(frozen=True)
class Bone:
    """One humanoid bone in the rig frame; `name` is its VRM 1.0 humanoid name (`addon/core/rig/humanoid.py`)."""

    name: str
    head: Vec3
    tail: Vec3
    parent: str | None


@dataclass(frozen=True)
class RigPlan:
    """Where the skeleton goes.

    The rig frame is `to_rig_frame` · world: a uniform scale to metres, a rotation about Z so the avatar
    faces −Y, and a translation putting the feet on z=0 and the mid-plane at x=0. Bones are parents first.
    `rigid` maps a MeshPart name to the bone it binds to rigidly (eyes, teeth, small hard accessories);
    `notes` says what was decided, one line each. `prop_beyond` is set when a prop fused to the body was left
    out of the reading (plan_rig): how far behind or in front of the plane of the body (y = 0) the body
    reaches, in metres; what lies beyond it rides on the bone where it joins the body.
    """

    bones: tuple[Bone, ...]
    to_rig_frame: Matrix4
    height: float
    rigid: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    prop_beyond: float | None = None


class NotHumanoidError(ValueError):
    """The meshes are not a standing humanoid; the message is the one-line reason."""


class UnusableMeshError(NotHumanoidError):
    """The meshes hold no shape to read at all (no faces, too few vertices, flat, coordinates not numbers):
    the reason says so itself, where "not a standing humanoid" would misname it."""
