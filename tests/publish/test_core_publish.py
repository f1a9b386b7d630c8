"""Names, versions, the request format and the structural VRM check: pure Python, no Blender."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from typing import Any

import pytest

from addon.core.publish import bucket_keys
from addon.core.publish.promotion import (
    Artifact,
    IndexEntry,
    IndexFileError,
    Request,
    RequestError,
    merge_index,
    outcome_record,
    parse_request,
)
from addon.core.vrm.inspect import VrmLimits, inspect_vrm, inspect_vrm_file
from tests.publish.samples import bin_chunk, edited, glb, json_chunk, make_vrm


@pytest.mark.parametrize("name", ["../x", "a b", "", ".hidden", "-dash", "x/y", "a.b", "é", "x" * 65, "A\n"])
def test_names_that_could_escape_or_confuse_are_refused(name):
    with pytest.raises(bucket_keys.InvalidNameError, match="invalid model name"):
        bucket_keys.check_name(name)


@pytest.mark.parametrize("name", ["Companion-A", "a", "X_1", "0" * 64])
def test_plain_names_are_accepted(name):
    assert bucket_keys.check_name(name) == name


def test_next_version_counts_exports_queue_done_failed_and_claims_of_that_name_only():
    keys = [
        "exports/A-v1.vrm",
        "projects/A-v9.blend",  # projects/ alone does not count: the issue says exports/ and promotion/
        "promotion/done/A-v2.json",
        "promotion/failed/A-v3.json",
        "promotion/claims/A-v5/123-host-1-ab",
        "exports/A-B-v7.vrm",  # another model whose name starts the same
        "exports/.A-v8.vrm.1a2b.tmp",  # an interrupted copy is not a version
    ]
    assert bucket_keys.next_version("A", keys) == 6
    assert bucket_keys.next_version("A-B", keys) == 8
    assert bucket_keys.next_version("New", keys) == 1


def test_versions_have_one_bound_and_a_key_at_it_is_named_not_followed():
    top = f"exports/Foo-v{bucket_keys.MAX_VERSION}.vrm"
    # A version past the bound is no version: never parsed, so never the latest of anything.
    assert bucket_keys.parse_key(f"exports/Foo-v{bucket_keys.MAX_VERSION + 1}.vrm") is None
    assert (
        bucket_keys.next_version("Foo", ["exports/Foo-v3.vrm", f"exports/Foo-v{bucket_keys.MAX_VERSION + 1}.vrm"]) == 4
    )
    # What publish writes, it can parse back: the top version is the last one taken, then a clear refusal.
    assert bucket_keys.parse_key(top) == bucket_keys.Versioned("Foo", bucket_keys.MAX_VERSION)
    assert (
        bucket_keys.next_version("Foo", [f"exports/Foo-v{bucket_keys.MAX_VERSION - 1}.vrm"]) == bucket_keys.MAX_VERSION
    )
    with pytest.raises(bucket_keys.VersionRangeError, match=re.escape(f"{top} holds version 999999999 of Foo")):
        bucket_keys.next_version("Foo", ["exports/Foo-v1.vrm", top])
    with pytest.raises(RequestError, match="version must be from 1 to 999999999"):
        parse_request(_request(version=bucket_keys.MAX_VERSION + 1))


def test_versioned_keys_follow_the_storage_layout():
    stem = bucket_keys.Versioned("Companion-A", 2)
    assert stem.export_key() == "exports/Companion-A-v2.vrm"
    assert stem.project_key() == "projects/Companion-A-v2.blend"
    assert stem.request_key() == "promotion/queue/Companion-A-v2.json"
    assert bucket_keys.parse_key("promotion/done/Companion-A-v2.json") == stem


def _request(**changes) -> bytes:
    request = Request(
        name="A",
        version=1,
        vrm=Artifact("exports/A-v1.vrm", "a" * 64, 10),
        blend=Artifact("projects/A-v1.blend", "b" * 64, 20),
        preset="companions-web",
        spec_version="1.0",
        stats={"triangles": 3},
        check={"errors": 0, "warnings": 1, "findings": []},
        blender_version="4.5.0",
        vrm_addon_version="3.0.0",
        avatar_forge_version="0.1.0",
        created_by="artist",
    )
    data = request.to_json()
    data.update(changes)
    return json.dumps(data).encode()


def test_a_request_round_trips_with_every_field_the_promoter_needs():
    request = parse_request(_request())
    assert request.versioned == bucket_keys.Versioned("A", 1)
    assert request.vrm.sha256 == "a" * 64 and request.blend.size == 20
    data = json.loads(_request())
    assert data["created_at"].endswith("Z")
    for key in ("preset", "spec_version", "stats", "check", "blender_version", "vrm_addon_version", "created_by"):
        assert key in data


def test_a_request_cannot_point_the_promoter_at_another_key():
    data = json.loads(_request())
    data["artifacts"]["vrm"]["key"] = "exports/B-v1.vrm"
    with pytest.raises(RequestError, match=re.escape("should be 'exports/A-v1.vrm'")):
        parse_request(json.dumps(data).encode())
    with pytest.raises(RequestError, match="invalid model name"):
        parse_request(_request(name="../etc"))
    with pytest.raises(RequestError, match="not JSON"):
        parse_request(b"{")


def test_index_gains_an_entry_once_and_keeps_the_first_promotion_time():
    first = IndexEntry("A", 1, "A-v1.vrm", "a" * 64, 10, "2026-01-01T00:00:00Z")
    raw, changed = merge_index(None, first)
    assert changed
    again, changed = merge_index(raw, IndexEntry("A", 1, "A-v1.vrm", "a" * 64, 10, "2027-01-01T00:00:00Z"))
    assert not changed and again == raw
    raw, _ = merge_index(raw, IndexEntry("A", 2, "A-v2.vrm", "c" * 64, 11, "2026-01-02T00:00:00Z"))
    models = json.loads(raw)["models"]
    assert [m["file"] for m in models] == ["A-v1.vrm", "A-v2.vrm"]
    assert models[0]["promoted_at"] == "2026-01-01T00:00:00Z"


def test_a_sample_vrm_passes_the_structural_check():
    report = inspect_vrm(make_vrm())
    assert report.ok, report.problems
    assert report.spec_version == "1.0" and len(report.bones) == 15


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (make_vrm()[:-8], "truncated"),
        (b"PK\x03\x04" + make_vrm()[4:], "no glTF magic"),
        (make_vrm(license_url="https://example.com/mine"), "licenseUrl"),
        (make_vrm(drop_bones=("leftHand", "hips")), "required humanoid bones not mapped: hips, leftHand"),
        (make_vrm()[:12], "only 12 bytes"),
        (make_vrm(vrm0_license="All mine"), "licenseName is 'All mine'"),
        (make_vrm(vrm0_license="Other"), "otherLicenseUrl is not a URL"),
        (make_vrm(vrm0_license="CC0", drop_bones=("neck",)), "not mapped: neck"),  # 0.x also requires neck
    ],
)
def test_broken_vrms_are_rejected_with_the_reason(data, problem):
    report = inspect_vrm(data)
    assert not report.ok
    assert problem in "; ".join(report.problems)


def test_a_vrm0_sample_passes_as_0x():
    report = inspect_vrm(make_vrm(vrm0_license="CC_BY"))
    assert report.ok, report.problems
    assert report.spec_version == "0.x" and len(report.bones) == 17


def test_a_plain_gltf_is_not_a_vrm():
    data = make_vrm().replace(b'"VRMC_vrm"', b'"XXXX_vrm"')
    assert "no VRMC_vrm or VRM extension" in inspect_vrm(data).problems[0]


@pytest.mark.parametrize(
    ("vrm0", "old", "new"),
    [
        (True, b'"bone": "chest"', b'"bone": ["che"]'),  # a list where a bone name belongs: unhashable
        (False, b'"node": 10}', b'"node": []}'),  # a list where a node index belongs
    ],
)
def test_wrong_json_types_deep_in_a_vrm_are_problems_not_crashes(vrm0, old, new):
    """One odd file must not crash the promoter, which would leave it, and everything queued after it,
    stuck in the queue for every later run. (Replacements keep the JSON chunk's length.)"""
    data = make_vrm(vrm0_license="CC_BY") if vrm0 else make_vrm()
    assert old in data and len(old) == len(new)
    report = inspect_vrm(data.replace(old, new, 1))
    assert not report.ok and report.problems


# Attack cases from the hardening run (issue 11, items 14, 15, 17): each would crash or mislead the promoter.


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("extras", "problem"),
    [
        (_nested(100_000), "nested deeper than 64"),  # past Python's recursion limit
        (_nested(100), "nested deeper than 64"),  # within it: only the configured depth refuses it
        (b"1" * 5000, "digits"),  # past Python's 4,300 digits
        (b"1" * 40, "integer of more than 32 digits"),  # within them: only the configured digits refuse it
    ],
)
def test_a_json_chunk_too_deep_or_with_a_huge_integer_is_a_problem_not_a_crash(extras, problem):
    text = json.dumps(json_chunk(make_vrm())).encode()
    data = glb(text[:-1] + b', "extras": ' + extras + b"}", bin_chunk(make_vrm()))
    report = inspect_vrm(data)
    assert not report.ok and problem in report.problems[0], report.problems


def test_a_request_too_deep_too_long_or_with_a_huge_integer_is_refused_with_the_reason():
    for raw, reason in [
        (b'{"stats": ' + _nested(100_000) + b"}", "nested deeper"),
        (_request(stats={"n": int("9" * 40)}), "more than 32 digits"),
        (_request(stats={"pad": "x" * (1024 * 1024)}), "over the limit of 1048576"),
    ]:
        with pytest.raises(RequestError, match=reason):
            parse_request(raw)


def test_the_json_chunk_size_is_capped_and_the_cap_is_configurable():
    data = make_vrm()
    size = len(json.dumps(json_chunk(data)))
    assert inspect_vrm(data, VrmLimits(max_json_bytes=size + 8)).ok
    report = inspect_vrm(data, VrmLimits(max_json_bytes=size - 64))
    assert "over the limit of" in report.problems[0]


def test_a_vrm_file_is_checked_reading_only_its_json_chunk(tmp_path):
    path = tmp_path / "big.vrm"
    path.write_bytes(make_vrm(8 * 1024 * 1024))
    assert inspect_vrm_file(path).ok
    truncated = tmp_path / "cut.vrm"
    truncated.write_bytes(path.read_bytes()[:-4])
    assert "truncated" in inspect_vrm_file(truncated).problems[0]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return edit


def _unbacked_accessor_of_four_gigabytes(document: dict[str, Any]) -> None:
    del document["accessors"][0]["bufferView"]  # zeros a loader would allocate
    document["accessors"][0]["count"] = 10**9


_UNBACKED_CAP = 64 * 1024 * 1024  # bytes of zeros an accessor without a bufferView may ask a loader for


def _unbacked_floats(count: int) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        del document["accessors"][0]["bufferView"]
        document["accessors"][0]["count"] = count

    return edit


def _sparse_entries(entries: int) -> Callable[[dict[str, Any]], None]:
    """Accessor 0 of two floats with `entries` sparse entries, indices and values in bufferView 0."""

    def edit(document: dict[str, Any]) -> None:
        document["accessors"][0]["count"] = 2
        document["accessors"][0]["sparse"] = {
            "count": entries,
            "indices": {"bufferView": 0, "componentType": 5125},
            "values": {"bufferView": 0},
        }

    return edit


@pytest.mark.parametrize("edit", [_unbacked_floats(_UNBACKED_CAP // 4), _sparse_entries(2)])
def test_accessors_at_their_limits_are_accepted(edit):
    report = inspect_vrm(edited(make_vrm(), edit))
    assert report.ok, report.problems


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (_unbacked_floats(_UNBACKED_CAP // 4 + 1), "accessors 0"),  # one float past the cap (about 67 MB)
        (_sparse_entries(3), "accessors 0"),  # more sparse entries than the accessor has elements
        (lambda d: d["buffers"].append({"byteLength": 4}), "buffers 1 (not the GLB's BIN chunk"),  # no uri either
        (_set("buffers.0.byteLength", 500 * 10**9), "buffers 0 (500000000000 bytes, the BIN chunk has"),
        (_set("accessors.0.count", 33 * 10**9), "accessors 0 run past their bufferView"),
        (_set("bufferViews.0.byteOffset", 8), "bufferViews 0 run past their buffer"),
        (_set("buffers.0.uri", "https://example.com/data.bin"), "not the GLB's BIN chunk"),
        (_set("accessors.0.componentType", 1), "accessors 0 run past their bufferView or are malformed"),
        (_unbacked_accessor_of_four_gigabytes, "accessors 0"),
        (_set("accessors.0.sparse", {"count": 2, "indices": {"bufferView": 0, "componentType": 5123,
                                                              "byteOffset": 10**9}, "values": {"bufferView": 0}}),
         "accessors 0"),
        (lambda d: d.pop("scenes"), "no scene to show"),
        (_set("scenes.0.nodes", [0, 1, 2]), "humanoid bones pointing at no node of the scene: "),
    ],
)  # fmt: skip
def test_buffers_views_accessors_and_the_scene_are_checked_against_the_file(edit, problem):
    report = inspect_vrm(edited(make_vrm(), edit))
    assert not report.ok and problem in "; ".join(report.problems), report.problems


def test_a_chunk_whose_length_is_not_a_multiple_of_four_is_a_problem():
    text = json.dumps(json_chunk(make_vrm())).encode()
    text += b" " * (-len(text) % 4 + 1)  # one byte past alignment; the BIN chunk follows it at once
    body = bin_chunk(make_vrm())
    total = 12 + 8 + len(text) + 8 + len(body)
    data = b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<II", len(text), 0x4E4F534A), text,
                     struct.pack("<II", len(body), 0x004E4942), body])  # fmt: skip
    report = inspect_vrm(data)
    assert not report.ok and "GLB chunk at byte 12 has a bad length" in report.problems[0], report.problems


def test_a_bone_reached_through_children_is_in_the_scene():
    def chain(document: dict[str, Any]) -> None:
        nodes = document["nodes"]
        for index in range(len(nodes) - 1):
            nodes[index]["children"] = [index + 1]
        nodes[-1]["children"] = [0]  # a cycle must not hang the walk
        document["scenes"] = [{"nodes": [0]}]

    assert inspect_vrm(edited(make_vrm(), chain)).ok


def test_the_hardening_run_vrm_is_rejected_for_each_of_its_lies():
    """A 500 GB buffer, 33e9 accessor elements and no scene or mesh: what three-vrm cannot load."""

    def attack(document: dict[str, Any]) -> None:
        document["buffers"] = [{"byteLength": 500 * 10**9}]
        document["bufferViews"] = [{"buffer": 0, "byteLength": 500 * 10**9}]
        document["accessors"] = [{"bufferView": 0, "componentType": 5126, "type": "VEC3", "count": 33 * 10**9}]
        document.pop("scenes")

    problems = "; ".join(inspect_vrm(edited(make_vrm(), attack)).problems)
    for part in ("buffers 0", "bufferViews 0", "accessors 0", "no scene"):
        assert part in problems, problems


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"models": [{"name": "A", "version": [1], "file": "A-v1.vrm"}]}', "not name/version/file"),
        (b'{"models": ' + _nested(5000) + b"}", "nested deeper"),
        (b'{"models": 3}', "no 'models' list"),
        (b"\xff", "not JSON"),
    ],
)
def test_a_broken_target_index_is_an_index_error_and_left_unchanged(raw, reason):
    with pytest.raises(IndexFileError, match=reason):
        merge_index(raw, IndexEntry("A", 2, "A-v2.vrm", "c" * 64, 11, "2026-01-02T00:00:00Z"))


def test_a_failed_record_keeps_a_request_it_could_not_parse_as_text():
    raw = b'{"a": ' + _nested(100_000) + b"}"
    record = json.loads(outcome_record(raw, "failed", {"reason": "nested"}))
    assert record["request"] == raw.decode() and record["result"]["reason"] == "nested"
