"""Third-party asset sources (Poly Haven): bounded HTTP, the per-session asset folder, and each source's
API, all without bpy. Blender links the finished files in `blender/asset_link.py`."""
