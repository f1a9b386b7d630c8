"""The promoter's side of clips and serving metadata, without Blender: the bounded VRM Animation check, the
picker's meta and thumbnail read from a VRM, kind-aware requests, and index.json@2 read by old and new."""

from __future__ import annotations

import json
from typing import Any

import pytest

from addon.core.publish.bucket_keys import Versioned, next_version
from addon.core.publish.picker import picker_facts
from addon.core.publish.promotion import (
    Artifact,
    IndexEntry,
    Request,
    RequestError,
    merge_index,
    parse_index,
    parse_request,
)
from addon.core.vrm.inspect import inspect_vrma_file
from tests.publish.samples import edited, make_vrm, make_vrma, tiny_png, with_thumbnail


def _problems(tmp_path, data: bytes) -> list[str]:
    path = tmp_path / "clip.vrma"
    path.write_bytes(data)
    return inspect_vrma_file(path).problems


def _drop_hips(document: dict[str, Any]) -> None:
    del document["extensions"]["VRMC_vrm_animation"]["humanoid"]["humanBones"]["hips"]


def _not_declared_used(document: dict[str, Any]) -> None:
    document["extensionsUsed"] = []  # three-vrm-animation reads the extension only when it is declared used


def _channel_to_nowhere(document: dict[str, Any]) -> None:
    document["animations"][0]["channels"][0]["target"]["node"] = 99


def test_the_clip_check_accepts_a_vrm_animation_and_names_what_is_wrong_with_others(tmp_path):
    assert _problems(tmp_path, make_vrma()) == []
    assert "no VRMC_vrm_animation extension" in _problems(tmp_path, make_vrm())[0]  # a model is no clip
    assert "no VRMC_vrm_animation extension" in _problems(tmp_path, edited(make_vrma(), _not_declared_used))[0]
    assert "maps no hips bone" in _problems(tmp_path, edited(make_vrma(), _drop_hips))[0]
    assert (
        "animations 0 have no channels or point at nothing"
        in _problems(tmp_path, edited(make_vrma(), _channel_to_nowhere))[0]
    )
    truncated = make_vrma()[:-8]
    assert "GLB header says" in _problems(tmp_path, truncated)[0]


def test_the_picker_reads_meta_and_a_real_thumbnail_and_leaves_out_a_false_one(tmp_path):
    png = tiny_png(3)
    path = tmp_path / "a.vrm"
    path.write_bytes(with_thumbnail(make_vrm(salt="x"), png))
    facts = picker_facts(path)
    assert facts.meta == {"title": "samplex", "authors": ["tests"], "license": "https://vrm.dev/licenses/1.0/"}
    assert facts.thumbnail is not None and facts.thumbnail.data == png and facts.thumbnail.suffix == "png"
    path.write_bytes(with_thumbnail(make_vrm(), b"<html>not a png</html>"))
    assert picker_facts(path).thumbnail is None  # never served as an image
    path.write_bytes(with_thumbnail(make_vrm(), png))
    assert picker_facts(path, max_thumbnail=len(png) - 1).thumbnail is None
    path.write_bytes(make_vrm(vrm0_license="CC_BY", salt="z"))  # VRM 0.x: its licence by name
    assert picker_facts(path).meta == {"title": "samplez", "authors": [], "license": "CC_BY"}


def _request(kind: str, key: str) -> Request:
    return Request(
        name="Wave", version=1, vrm=Artifact(key, "a" * 64, 10), blend=Artifact("projects/Wave-v1.blend", "b" * 64, 20),
        preset="vrma", spec_version="1.0", stats={}, check={}, blender_version="4.5", vrm_addon_version=None,
        avatar_forge_version="0", created_by="t", kind=kind,
    )  # fmt: skip


def test_a_request_names_its_kind_and_only_the_key_that_kind_implies():
    clip = parse_request(_request("animation", "animations/Wave-v1.vrma").encode())
    assert (clip.kind, clip.served_file) == ("animation", "animations/Wave-v1.vrma")
    with pytest.raises(RequestError, match=r"should be 'animations/Wave-v1\.vrma'"):
        parse_request(_request("animation", "exports/Wave-v1.vrm").encode())
    older = json.loads(_request("model", "exports/Wave-v1.vrm").encode())
    with pytest.raises(RequestError, match="kind must be one of model, animation"):
        parse_request(json.dumps({**older, "kind": "texture"}).encode())
    del older["kind"]  # a request queued before clips existed is a model's
    assert parse_request(json.dumps(older).encode()).kind == "model"
    # Models and clips share a name's versions: a request key names exactly one thing.
    assert next_version("Wave", ["animations/Wave-v1.vrma", "exports/Wave-v2.vrm"]) == 3
    assert Versioned("Wave", 3).animation_key() == "animations/Wave-v3.vrma"


def test_an_index_at_1_gains_animations_and_urls_and_still_reads_as_before():
    model: dict[str, Any] = {"name": "A", "version": 1, "file": "A-v1.vrm", "sha256": "0" * 64, "size": 5}
    old = {"format": "avatar-forge/index@1", "models": [{**model, "promoted_at": "then"}]}
    clip = IndexEntry("Wave", 1, "animations/Wave-v1.vrma", "1" * 64, 7, "now", "animation")
    raw, added = merge_index(json.dumps(old).encode(), clip, base_url="/assets/models/")
    index = json.loads(raw)
    assert added and index["format"] == "avatar-forge/index@2"
    assert index["models"] == [{**model, "promoted_at": "then", "kind": "model", "url": "/assets/models/A-v1.vrm"}]
    assert index["animations"][0]["url"] == "/assets/models/animations/Wave-v1.vrma"
    assert [e["file"] for e in parse_index(raw)] == ["A-v1.vrm", "animations/Wave-v1.vrma"]
    again, added = merge_index(raw, clip, base_url="/assets/models/")
    assert not added and again == raw  # kept as first written
