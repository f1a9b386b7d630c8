"""Avatars' bare meshes in their rest shape and their artists' joints (dump_meshes.py), dumped once per test
session for every file that reads them: test_real_meshes.py plans on them, test_generated_meshes.py fuses
them as a generator would (importing a VRM with the VRM Add-on alone takes seconds). An entry per avatar
(tests/session_cache.py), the missing ones made in one Blender process."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests import session_cache
from tests.core.autorig import artists

# A model, and the angle below horizontal its artist's rig lowers the arms to (None: as modelled).
Spec = tuple[Path, float | None]


def spec_text(spec: Spec) -> str:
    """The spec as the dump scripts take it on their command line: MODEL or MODEL@DEGREES."""
    model, arms = spec
    return f"{model}@{arms:g}" if arms is not None else str(model)


def stem(spec: Spec) -> str:
    """The name of the spec's .npz, without the suffix, as the dump scripts write it."""
    model, arms = spec
    return model.stem + (f"@{arms:g}" if arms is not None else "")


def _key(spec: Spec) -> list[Any]:
    model, arms = spec
    return ["rest meshes", model.name, session_cache.sha256(model), arms]


def rest_dumps(factory: pytest.TempPathFactory, specs: Sequence[Spec]) -> dict[Spec, Path]:
    """Per spec (its model present), the .npz dump_meshes.py writes for it, made once per session."""

    def make(folders: dict[Spec, Path]) -> None:
        with tempfile.TemporaryDirectory(dir=next(iter(folders.values())).parent) as out:
            script = Path(__file__).with_name("dump_meshes.py")
            artists.run_dump(script, Path(out), *map(spec_text, folders))
            for spec, folder in folders.items():
                (Path(out) / f"{stem(spec)}.npz").rename(folder / f"{stem(spec)}.npz")

    folders = session_cache.shared_each(factory, specs, _key, make)
    return {spec: folder / f"{stem(spec)}.npz" for spec, folder in folders.items()}
