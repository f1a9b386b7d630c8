"""Avatar Forge's own MCP server (`forge.py mcp`): the avatar tools for an AI assistant, over stdio, on
the official MCP SDK. It imports no bpy: every tool is a command sent to the socket server in Blender."""
