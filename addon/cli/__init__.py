"""`forge.py`: the command line, thin over the same functions the sidebar and the socket call."""

from .main import main

__all__ = ["main"]
