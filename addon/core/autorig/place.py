"""plan_rig: bare meshes in, a humanoid skeleton plan out."""

from __future__ import annotations

from collections.abc import Sequence

from .types import MeshPart, NotHumanoidError, RigPlan


def plan_rig(parts: Sequence[MeshPart], spec_version: str = "1.0") -> RigPlan:
    """The skeleton for these meshes, in the rig frame; NotHumanoidError when they are no standing humanoid."""
    raise NotHumanoidError("auto-rig placement is not implemented yet")
