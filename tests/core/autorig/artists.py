"""Joints planned on a dump (dump_meshes.py, dump_fused.py) against the artist's, as shares of the height."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from addon.core.autorig import MeshPart, plan_rig
from addon.core.rig import humanoid

Joints = dict[str, npt.NDArray[np.float64]]


def read_dump(path: Path) -> tuple[list[MeshPart], Joints]:
    """The dump's meshes and the artist's joint of each VRM humanoid bone (world coordinates)."""
    data = np.load(path)
    parts = [MeshPart(str(n), data[f"v{i}"], data[f"t{i}"]) for i, n in enumerate(data["names"])]
    return parts, dict(zip(map(str, data["joint_names"]), data["joints"], strict=True))


def offsets(parts: list[MeshPart], artist: Joints) -> Joints:
    """Per bone both rigs have: the planned joint minus the artist's, in the rig frame (X to the avatar's left,
    Y backwards, Z up), as a share of the height."""
    plan = plan_rig(parts)
    m = np.array(plan.to_rig_frame)
    heads = {b.name: np.array(b.head) for b in plan.bones}
    return {
        bone: (heads[bone] - (m[:3, :3] @ artist[bone] + m[:3, 3])) / plan.height
        for bone in sorted(heads.keys() & artist.keys())
    }


@functools.cache
def dump_offsets(dump: Path) -> Joints:
    """`offsets` of a dump's meshes against its artist's joints, planned once per process: a dump is a file of
    this test session that nothing changes, and several tests check the same plan."""
    return offsets(*read_dump(dump))


def errors(found: Joints) -> dict[str, float]:
    """Per required bone of `offsets`: distance from the planned joint to the artist's, a share of the height."""
    return {bone: float(np.linalg.norm(found[bone])) for bone in sorted(humanoid.REQUIRED_VRM1 & found.keys())}


def joint_errors(parts: list[MeshPart], artist: Joints) -> dict[str, float]:
    """Per required bone the artist maps: distance from the planned joint, as a share of the height."""
    return errors(offsets(parts, artist))


def marked(names: Iterable[str], short: dict[str, str]) -> list[Any]:
    """The models as test parameters, each one that misses the goal a strict expected failure with its reason
    (so the mark has to go the day it meets it)."""
    return [pytest.param(n, marks=pytest.mark.xfail(reason=short[n], strict=True)) if n in short else n for n in names]


def assert_meets_goals(err: dict[str, float]) -> None:
    """The issue's goals for joints: median within 2% of the height, the worst within 8%."""
    assert len(err) >= 12
    report = {k: f"{v:.1%}" for k, v in err.items()}
    assert np.median(list(err.values())) <= 0.02, report
    assert max(err.values()) <= 0.08, report


def run_dump(script: Path, out: Path, *args: str) -> Path:
    """Runs a dump script (dump_meshes.py, dump_fused.py) in a Blender process of its own, writing into `out`."""
    done = subprocess.run(
        [sys.executable, str(script), str(out), *args], check=False, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out
