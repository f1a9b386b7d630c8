"""The checks every writer shares: where a file may go, and how it is put there without clobbering."""

from __future__ import annotations

import errno

import pytest

from addon.core import outputs
from addon.core.outputs import output_path, place_new, refuse_protected


def test_the_path_written_is_absolute_and_normalised(tmp_path):
    (tmp_path / "a").mkdir()
    assert output_path(tmp_path / "a" / ".." / "x.vrm", ".vrm", overwrite=False) == tmp_path.resolve() / "x.vrm"


def test_nothing_inside_a_protected_folder_may_be_written(tmp_path):
    root = tmp_path / "storage"
    (root / "exports").mkdir(parents=True)
    (tmp_path / "storage-2").mkdir()
    (tmp_path / "link").symlink_to(root / "exports")  # a way in that does not name the folder
    inside = [root / "exports" / "A-v1.vrm", tmp_path / "link" / "A-v1.vrm", root, tmp_path / "x" / ".." / "storage"]
    for path in inside:
        with pytest.raises(PermissionError, match="only publish writes there"):
            refuse_protected(path, [root])
    refuse_protected(tmp_path / "storage-2" / "A.vrm", [root])  # a name that merely starts the same
    refuse_protected(tmp_path / "A.vrm", [root, tmp_path / "missing"])


def test_place_new_never_replaces_or_writes_through_a_link(tmp_path):
    scratch = tmp_path / "scratch.png"
    scratch.write_bytes(b"new")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"outside")
    existing, hard, soft = tmp_path / "existing.png", tmp_path / "hard.png", tmp_path / "soft.png"
    existing.write_bytes(b"keep")
    hard.hardlink_to(outside)
    soft.symlink_to(tmp_path / "target-of-link.png")  # dangling
    for out in (existing, hard, soft):
        with pytest.raises(FileExistsError):
            place_new(scratch, out)
    assert existing.read_bytes() == b"keep" and outside.read_bytes() == b"outside"
    assert not (tmp_path / "target-of-link.png").exists()
    place_new(scratch, tmp_path / "shot.png")
    assert (tmp_path / "shot.png").read_bytes() == b"new" and not scratch.exists()


def test_without_hard_links_place_new_creates_exclusively_and_follows_no_link(tmp_path, monkeypatch):
    def no_links(*_args: object) -> None:
        raise OSError(errno.EPERM, "no hard links here")

    monkeypatch.setattr(outputs.os, "link", no_links)
    scratch = tmp_path / "scratch.png"
    scratch.write_bytes(b"new")
    soft = tmp_path / "soft.png"
    soft.symlink_to(tmp_path / "target-of-link.png")
    with pytest.raises(FileExistsError):
        place_new(scratch, soft)
    assert not (tmp_path / "target-of-link.png").exists()
    place_new(scratch, tmp_path / "shot.png")
    assert (tmp_path / "shot.png").read_bytes() == b"new"
