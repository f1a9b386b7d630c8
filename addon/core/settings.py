"""Defaults shared by the preferences, the CLI and the server, so none of them invents its own."""

DEFAULT_STORAGE_ROOT = "/s3/blender-avatars"
DEFAULT_S3_BUCKET = "kasm"
DEFAULT_S3_PREFIX = "blender-avatars"
DEFAULT_MCP_HOST = "127.0.0.1"
DEFAULT_MCP_PORT = 9876
EXECUTE_CODE_POLICIES = ("allow", "deny")
DEFAULT_EXECUTE_CODE_POLICY = "allow"
