"""The sparse rewrite on GLBs built here, small enough to reason about byte by byte."""

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from addon.core.vrm import accessors, glb, sparse_morphs

FLOAT, UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5121, 5123, 5125
PNG = b"\x89PNG\r\n\x1a\nnot really an image"


def _glb(
    vertices: int, moved: list[int], normal_noise: float = 0.0
) -> tuple[bytes, dict[str, npt.NDArray[np.float32]]]:
    """A GLB with one mesh: positions, one morph target moving `moved` (POSITION, NORMAL with noise
    elsewhere), an image after the morph data (its bufferView must follow any renumbering)."""
    rng = np.random.default_rng(1)
    arrays = {
        "position": rng.random((vertices, 3), dtype=np.float32),
        "morph": np.zeros((vertices, 3), dtype=np.float32),
        "morph_normal": np.full((vertices, 3), normal_noise, dtype=np.float32),
    }
    arrays["morph"][moved] = rng.random((len(moved), 3), dtype=np.float32) + 0.1
    arrays["morph_normal"][moved] = 0.25
    views, binary = [], b""
    for chunk in (arrays["position"].tobytes(), arrays["morph"].tobytes(), arrays["morph_normal"].tobytes(), PNG):
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(chunk), "target": 34962})
        binary += chunk + b"\0" * (-len(chunk) % 4)
    del views[3]["target"]
    accessor = {"componentType": FLOAT, "count": vertices, "type": "VEC3"}
    document: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": [
            {**accessor, "bufferView": 0},
            {**accessor, "bufferView": 1, "min": [0, 0, 0], "max": [1, 1, 1]},
            {**accessor, "bufferView": 2},
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "targets": [{"POSITION": 1, "NORMAL": 2}]}]}],
        "images": [{"bufferView": 3, "mimeType": "image/png"}],
        "extensions": {"VRMC_vrm": {"meta": {"thumbnailImage": 0}}},
    }
    return glb.write(document, binary), arrays


def _dense(document: dict[str, Any], binary: bytes, index: int) -> npt.NDArray[np.float32]:
    """An accessor's values the way a loader reads it: the base (zeros) with the sparse values written in."""
    accessor = document["accessors"][index]
    out = np.zeros((accessor["count"], 3), dtype=np.float32)
    if "bufferView" in accessor:
        view = document["bufferViews"][accessor["bufferView"]]
        out[:] = np.frombuffer(binary, "<f4", accessor["count"] * 3, view["byteOffset"]).reshape(-1, 3)
    sparse = accessor["sparse"]
    kind = {UNSIGNED_BYTE: "<u1", UNSIGNED_SHORT: "<u2", UNSIGNED_INT: "<u4"}[sparse["indices"]["componentType"]]
    indices_view = document["bufferViews"][sparse["indices"]["bufferView"]]
    values_view = document["bufferViews"][sparse["values"]["bufferView"]]
    indices = np.frombuffer(binary, kind, sparse["count"], indices_view["byteOffset"])
    out[indices] = np.frombuffer(binary, "<f4", sparse["count"] * 3, values_view["byteOffset"]).reshape(-1, 3)
    return out


def test_morph_targets_become_sparse_with_short_indices_and_load_identically():
    data, arrays = _glb(1000, [3, 10, 999])
    out, stats = sparse_morphs.sparsify(data)
    document, binary = glb.read(out)
    morph = document["accessors"][1]
    assert "bufferView" not in morph and morph["sparse"]["count"] == 3
    # Never UNSIGNED_BYTE: UniVRM rejects it.
    assert morph["sparse"]["indices"]["componentType"] == UNSIGNED_SHORT
    assert np.array_equal(_dense(document, binary, 1), arrays["morph"])
    assert (morph["min"], morph["max"]) == ([0, 0, 0], [1, 1, 1])  # the accessor keeps its bounds
    assert stats.accessors == 2 and len(out) < len(data) / 2  # two of three vertex streams all but gone
    # Sparse views carry no target; the base mesh and the image keep their bytes and are still found.
    assert all("target" not in document["bufferViews"][morph["sparse"][k]["bufferView"]] for k in ("indices", "values"))
    position = document["bufferViews"][document["accessors"][0]["bufferView"]]
    start = position["byteOffset"]
    assert binary[start : start + position["byteLength"]] == arrays["position"].tobytes()
    image = document["bufferViews"][document["images"][0]["bufferView"]]
    assert binary[image["byteOffset"] : image["byteOffset"] + image["byteLength"]] == PNG
    assert document["extensions"] == {"VRMC_vrm": {"meta": {"thumbnailImage": 0}}}
    assert len(binary) - 3 <= document["buffers"][0]["byteLength"] <= len(binary)


def test_small_indices_are_still_unsigned_short_and_large_ones_unsigned_int():
    small, _ = _glb(200, [0, 5])  # every index fits in a byte
    document, _binary = glb.read(sparse_morphs.sparsify(small)[0])
    assert document["accessors"][1]["sparse"]["indices"]["componentType"] == UNSIGNED_SHORT
    large, arrays = _glb(70000, [1, 69999])
    document, binary = glb.read(sparse_morphs.sparsify(large)[0])
    assert document["accessors"][1]["sparse"]["indices"]["componentType"] == UNSIGNED_INT
    assert np.array_equal(_dense(document, binary, 1), arrays["morph"])


def _set(data: bytes, accessor: int, vertex: int, value: float) -> bytes:
    """The GLB with one float of a dense accessor (the vertex's x) set to `value`."""
    document, binary = glb.read(data)
    view = document["bufferViews"][document["accessors"][accessor]["bufferView"]]
    at = view["byteOffset"] + vertex * 12
    return glb.write(document, binary[:at] + np.float32(value).tobytes() + binary[at + 4 :])


def test_normal_rounding_noise_is_left_to_the_zero_base_and_real_changes_kept():
    # Noise of 3e-7 everywhere is an exporter's float rounding; a change of 5e-6 is a change. Pinned from
    # both sides: a threshold ten times lower keeps the noise, ten times higher drops the change.
    data, arrays = _glb(1000, [7, 8], normal_noise=3e-7)
    data = _set(data, 2, 500, 5e-6)
    document, binary = glb.read(sparse_morphs.sparsify(data)[0])
    normal = document["accessors"][2]
    assert normal["sparse"]["count"] == 3
    loaded = _dense(document, binary, 2)
    assert loaded[500, 0] == np.float32(5e-6) and np.array_equal(loaded[[7, 8]], arrays["morph_normal"][[7, 8]])
    assert not np.delete(loaded, [7, 8, 500], axis=0).any()  # the noise elsewhere is gone, not written


def test_positions_are_kept_bit_for_bit():
    # Any change at all is kept: a delta of 1e-7 (far below the normals' noise) is still a move.
    data, arrays = _glb(1000, [7, 8])
    data = _set(data, 1, 500, 1e-7)
    arrays["morph"][500, 0] = np.float32(1e-7)
    document, binary = glb.read(sparse_morphs.sparsify(data)[0])
    assert document["accessors"][1]["sparse"]["count"] == 3
    assert _dense(document, binary, 1).tobytes() == arrays["morph"].tobytes()


def test_a_buffer_view_shared_by_two_accessors_keeps_its_bytes():
    # The morph target's view also holds a second primitive's positions: rewriting it would move that mesh.
    data, arrays = _glb(1000, [7, 8])
    document, binary = glb.read(data)
    document["accessors"].append({**document["accessors"][1]})
    document["meshes"][0]["primitives"].append({"attributes": {"POSITION": 3}})
    out, _stats = sparse_morphs.sparsify(glb.write(document, binary))
    after, after_binary = glb.read(out)
    for index in (1, 3):
        assert np.array_equal(accessors.accessor_array(after, after_binary, index), arrays["morph"]), index
    assert "bufferView" in after["accessors"][1] and "sparse" not in after["accessors"][1]


def test_without_morph_normals_the_targets_hold_positions_only():
    data, arrays = _glb(1000, [3])
    out, stats = sparse_morphs.sparsify(data, morph_normals=False)
    document, binary = glb.read(out)
    assert document["meshes"][0]["primitives"][0]["targets"] == [{"POSITION": 1}]
    assert stats.dropped == 1 and np.array_equal(_dense(document, binary, 1), arrays["morph"])
    assert all(view["byteLength"] > 0 for view in document["bufferViews"])
    # Nothing of the dense morph data is left behind: base positions, the image and one sparse entry.
    assert document["buffers"][0]["byteLength"] < arrays["position"].nbytes + len(PNG) + 32


def test_a_target_that_moves_nothing_gets_one_zero_entry():
    data, _arrays = _glb(1000, [])
    document, binary = glb.read(sparse_morphs.sparsify(data)[0])
    assert document["accessors"][1]["sparse"]["count"] == 1  # glTF asks for at least one
    assert not _dense(document, binary, 1).any()


def test_a_layout_it_does_not_know_is_refused_not_guessed():
    data, _ = _glb(100, [1])
    document, binary = glb.read(data)
    document["buffers"].append({"byteLength": 4, "uri": "extra.bin"})
    with pytest.raises(sparse_morphs.GlbLayoutError):
        sparse_morphs.sparsify(glb.write(document, binary))
    with pytest.raises(sparse_morphs.GlbLayoutError):
        sparse_morphs.sparsify(b"PK\x03\x04" + bytes(20))


def test_accessor_array_reads_dense_and_sparse_accessors_alike():
    data, arrays = _glb(300, [4, 299])
    before, before_binary = glb.read(data)
    after, after_binary = glb.read(sparse_morphs.sparsify(data)[0])
    for index, name in ((0, "position"), (1, "morph"), (2, "morph_normal")):
        assert np.array_equal(accessors.accessor_array(before, before_binary, index), arrays[name])
        assert np.array_equal(accessors.accessor_array(after, after_binary, index), arrays[name])
