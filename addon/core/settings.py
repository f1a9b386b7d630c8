"""Defaults shared by the preferences, the CLI and the server, so none of them invents its own.

An image can change a default with an environment variable (the Kasm image turns MCP auto-start on);
a value the user saved in Blender's preferences still wins over it.
"""

import os

DEFAULT_STORAGE_ROOT = os.environ.get("AVATAR_FORGE_STORAGE_ROOT", "/s3/blender-avatars")
DEFAULT_S3_BUCKET = "kasm"
DEFAULT_S3_PREFIX = "blender-avatars"
DEFAULT_MCP_HOST = "127.0.0.1"
DEFAULT_MCP_PORT = 9876
EXECUTE_CODE_POLICIES = ("allow", "deny")
DEFAULT_EXECUTE_CODE_POLICY = "allow"
DEFAULT_MCP_AUTO_START = os.environ.get("AVATAR_FORGE_MCP_AUTO_START", "").lower() in ("1", "true", "yes", "on")

# The socket server's limits (docs/security.md). Each is a preference and a `forge.py serve` flag.
DEFAULT_MCP_MAX_CONNECTIONS = 64  # far below the usual 1,024 file descriptors
DEFAULT_MCP_HANDSHAKE_SECONDS = 10.0  # to authenticate (with a token) or send a first request
DEFAULT_MCP_IDLE_SECONDS = 60.0  # a full server closes a client idle this long to let a newcomer in
DEFAULT_MCP_MAX_BUFFERED_MB = 256  # bytes held for unfinished and queued messages, all connections together
DEFAULT_MCP_MAX_QUEUED = 256  # commands waiting for Blender's main thread, all connections together
# Hyper3D Rodin's API key, when not in the preferences: an environment variable, never a command-line flag
# (a flag shows in every process list).
HYPER3D_KEY_ENV = "AVATAR_FORGE_HYPER3D_API_KEY"
