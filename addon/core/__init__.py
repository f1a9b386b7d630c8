"""Avatar Forge core: pure Python, no bpy.

Everything here runs in a plain interpreter (the promoter's container, the unit tests) and decides;
the Blender-facing modules only read Blender into these plain types and act on what core returns.
"""
