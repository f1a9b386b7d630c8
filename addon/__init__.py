"""Avatar Forge: AI-assisted VRM avatar pipeline for Blender. This file only registers and unregisters."""

from __future__ import annotations


def register() -> None:
    from . import registration

    registration.register()


def unregister() -> None:
    from . import registration

    registration.unregister()
