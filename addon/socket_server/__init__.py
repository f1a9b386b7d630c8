"""The MCP socket server BlenderMCP's MCP servers connect to.

Network threads only move bytes (`listener`); commands run on Blender's main thread through one queue
and one dispatcher (`dispatcher`), pumped by a timer in the UI (`runtime`) and by `forge.py serve`'s own
loop headless. The command table is `commands`.
"""
