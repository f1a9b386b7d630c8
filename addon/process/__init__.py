"""Our own processes: children that die with their parent, and the temp folders a process leaves (no bpy)."""
