"""Blender-facing code: reads Blender into core's plain data and acts on core's decisions."""
