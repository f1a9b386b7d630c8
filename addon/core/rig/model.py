"""The rig as plain data: what the checks need from Blender, read out once (see blender/rig_reader.py).

Positions are numpy arrays; vertex-group weights are a padded (N, K) pair: group indices (-1 = empty slot)
and weights (0 in empty slots), K being the most groups any vertex of the mesh is in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def padded_weights(dense: npt.NDArray[np.floating[Any]]) -> tuple[IntArray, FloatArray]:
    """(N, G) weights (0: no influence) -> the padded (N, K) group indices and weights, K the most
    influences any vertex has; each row's groups in group order."""
    dense = np.ascontiguousarray(dense)
    n, groups = dense.shape
    # Flat positions, row-major: each row's entries together, in column order. Flat indexing takes about
    # 40% less time than the same on 2-D indices at 200k vertices.
    flat = np.flatnonzero(dense > 0.0)
    rows, cols = np.divmod(flat, groups)
    counts = np.bincount(rows, minlength=n)
    k = int(counts.max()) if n else 0
    index = np.full((n, k), -1, dtype=np.int64)
    weight = np.zeros((n, k), dtype=np.float64)
    at = rows * k + np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    index.ravel()[at] = cols
    weight.ravel()[at] = dense.ravel()[flat]
    return index, weight


@dataclass(frozen=True)
class Transform:
    """An object's own location / rotation (quaternion w, x, y, z) / scale, and its world matrix."""

    location: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    matrix_world: tuple[tuple[float, ...], ...] = ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1))

    def to_world(self, points: FloatArray) -> FloatArray:
        m = np.asarray(self.matrix_world, dtype=np.float64)
        return np.asarray(points @ m[:3, :3].T + m[:3, 3], dtype=np.float64)


@dataclass
class BoneTable:
    """An armature's bones in armature space, parents before children as Blender lists them."""

    names: list[str]
    parents: list[int]  # index into names, -1 for a root
    heads: FloatArray  # (B, 3)
    tails: FloatArray  # (B, 3)
    deform: BoolArray  # (B,)

    def __post_init__(self) -> None:
        self.index = {name: i for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def parent_of(self, name: str) -> str | None:
        p = self.parents[self.index[name]]
        return None if p < 0 else self.names[p]

    def children(self, name: str) -> list[str]:
        i = self.index[name]
        return [self.names[c] for c, p in enumerate(self.parents) if p == i]

    def is_ancestor(self, ancestor: str, name: str) -> bool:
        """Whether `ancestor` is a proper ancestor of `name`."""
        p = self.parents[self.index[name]]
        target = self.index[ancestor]
        while p >= 0:
            if p == target:
                return True
            p = self.parents[p]
        return False


@dataclass
class ArmatureInfo:
    name: str
    transform: Transform
    bones: BoneTable
    mapping: dict[str, str]  # what the VRM Add-on holds now: VRM bone -> Blender bone name (may name no bone)
    posed_heads: FloatArray | None = None  # (B, 3) bone heads in the current pose, armature space
    # The pose bones' own scale and location channels, (B, 3) each: a pose that is only a rotation of the
    # rest pose has scale 1 and location 0 (a connected bone's location does nothing: 0 here).
    pose_scale: FloatArray | None = None
    pose_location: FloatArray | None = None
    carrying: frozenset[str] = frozenset()  # bones carrying geometry (see checks.carrying_bones); empty: unknown


@dataclass
class MeshInfo:
    name: str
    transform: Transform
    parent: str | None
    positions: FloatArray  # (N, 3), object space
    group_names: list[str]
    group_index: IntArray  # (N, K), -1 in empty slots
    group_weight: FloatArray  # (N, K), 0 in empty slots
    armature_modifiers: tuple[str, ...]  # the object each armature modifier deforms with ("" when unset)
    shape_keys: tuple[str, ...]  # without the basis
    triangles: int
    materials: tuple[str, ...]
    parent_type: str = "OBJECT"  # Blender's: OBJECT, ARMATURE (deforms like a modifier), BONE (a rigid part)...
    parent_bone: str = ""
    shape_key_moved: tuple[int, ...] = ()  # per shape key, the vertices it moves off its reference key
    # (armature, bone) this object hangs from, directly or through other objects (a part under an empty).
    carried_by: tuple[str, str] | None = None

    def group_mask(self, groups: Collection[str]) -> BoolArray:
        """Per vertex group, one of `groups`? With one False more, for the padding index -1: indexed by
        `group_index`, it says which of each vertex's slots hold one of them."""
        return np.array([name in groups for name in self.group_names] + [False], dtype=bool)

    def every_vertex_weighted_to(self, groups: Collection[str]) -> bool:
        """Each vertex has a weight above 0 in at least one of the groups named (True for no vertices)."""
        return bool(self.group_mask(groups)[self.group_index].any(axis=1).all())


@dataclass(frozen=True)
class TextureInfo:
    name: str
    width: int
    height: int
    bytes: int  # packed or file size; 0 when unknown


@dataclass(frozen=True)
class MaterialInfo:
    """A material as the export writes it: the alpha it multiplies the base colour by, whether that alpha is
    ignored (an opaque MToon), and whether a texture feeds it (then the value alone says little)."""

    name: str
    alpha: float
    opaque: bool = False
    textured: bool = False


@dataclass
class RigModel:
    """Everything one check looks at: the armature checked, its meshes and their looks."""

    armature: ArmatureInfo | None
    meshes: list[MeshInfo]
    textures: list[TextureInfo] = field(default_factory=list)
    materials: list[MaterialInfo] = field(default_factory=list)  # the meshes' materials, each once
    bound_expressions: frozenset[str] = frozenset()  # VRM expressions already bound in the VRM Add-on
    user_chose_armature: bool = False
    # Other armatures that drive geometry too (one that drives none, a Rigify metarig, is no rival).
    rival_armatures: list[str] = field(default_factory=list)
