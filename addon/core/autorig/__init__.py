"""Auto-rig: place a VRM humanoid skeleton on bare meshes, from their geometry alone (numpy, no bpy)."""

from .place import plan_rig
from .types import Bone, MeshPart, NotHumanoidError, RigPlan

__all__ = ["Bone", "MeshPart", "NotHumanoidError", "RigPlan", "plan_rig"]
