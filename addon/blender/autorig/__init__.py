"""Auto-rig, the Blender side: bare meshes read into the core's plan, the planned skeleton built as an
armature, the meshes skinned to it (see run.auto_rig, the one entry point)."""

from .run import AutoRigError, AutoRigResult, auto_rig, driven

__all__ = ["AutoRigError", "AutoRigResult", "auto_rig", "driven"]
