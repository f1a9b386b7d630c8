"""Auto-rig: place a VRM humanoid skeleton on bare meshes, from their geometry alone (numpy, no bpy)."""

from .place import plan_rig
from .types import Bone, MeshPart, NotHumanoidError, RigPlan, UnusableMeshError

__all__ = ["Bone", "MeshPart", "NotHumanoidError", "RigPlan", "UnusableMeshError", "plan_rig"]
