"""Web packing (core/vrm/webpack) on a small skinned, morphed, textured GLB made here: what it writes, that it
decodes to what it proves, and that its checks refuse what would show a different avatar."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from addon.core.models import refs as model_refs
from addon.core.vrm import glb, webpack
from addon.core.vrm.accessors import accessor_array
from addon.core.vrm.webpack import geometry_check, json_numbers, meshopt_codec, quantize, textures
from tests.float32_json import same_as_float32

FLOAT, UNSIGNED_SHORT = 5126, 5123


def _png(size: int, seed: int, alpha: bool = False) -> bytes:
    rng = np.random.default_rng(seed)
    # Smooth colour (a photo-like texture) with a little noise: what WebP is for.
    ramp = np.linspace(0, 255, size, dtype=np.float64)
    pixels = np.stack([np.add.outer(ramp, ramp) / 2, np.add.outer(ramp, -ramp) / 2 + 128, np.full((size, size), 90)])
    pixels = np.clip(pixels.transpose(1, 2, 0) + rng.normal(0, 4, (size, size, 3)), 0, 255).astype(np.uint8)
    picture = Image.fromarray(pixels, "RGB")
    if alpha:
        picture.putalpha(Image.fromarray(np.where(np.add.outer(ramp, ramp) > 200, 255, 0).astype(np.uint8)))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _glb(shuffled: bool = False) -> bytes:
    """A 1.7 m strip of 40 quads skinned to two joints (hips, head), one sparse-free morph target moving the
    top, normals, UVs, a base colour texture and a VRM 1.0 thumbnail image; `shuffled`: its vertices numbered
    in a random order (as an exporter that numbers them per UV island leaves them)."""
    rows = 41
    y = np.linspace(0.0, 1.7, rows)
    positions = np.array([(x, h, 0.05 * np.sin(7 * h)) for h in y for x in (-0.2, 0.2)], dtype="<f4")
    count = len(positions)
    normals = np.tile(np.array([0, 0, 1], dtype="<f4"), (count, 1))
    normals[::3] = np.array([0.6, 0, 0.8], dtype="<f4")
    uvs = np.array([(x, h / 1.7) for h in y for x in (0.0, 1.0)], dtype="<f4")
    head = np.clip((positions[:, 1] - 0.8) / 0.6, 0, 1)
    share = np.random.default_rng(3).uniform(0.2, 0.8, count)  # the hips' weight split over two influences
    weights = np.zeros((count, 4), dtype="<f4")
    weights[:, 0], weights[:, 1], weights[:, 2] = (1 - head) * share, head, (1 - head) * (1 - share)
    joints = np.zeros((count, 4), dtype="<u2")
    joints[:, 1] = 1
    morph = np.zeros((count, 3), dtype="<f4")
    morph[-6:, 2] = 0.012  # the top moves 12 mm forward
    quads = [(2 * r, 2 * r + 1, 2 * r + 3, 2 * r, 2 * r + 3, 2 * r + 2) for r in range(rows - 1)]
    indices = np.array(quads, dtype="<u2").reshape(-1)
    if shuffled:
        old = np.random.default_rng(5).permutation(count)  # new number -> the vertex it was
        positions, normals, uvs, joints, weights, morph = (
            a[old] for a in (positions, normals, uvs, joints, weights, morph)
        )
        indices = np.argsort(old)[indices].astype("<u2")
    hips, head_at = np.eye(4), np.eye(4)
    hips[:3, 3] = (0, 0.9, 0)
    head_at[:3, 3] = (0, 1.5, 0)
    binds = np.stack([np.linalg.inv(hips), np.linalg.inv(head_at)]).transpose(0, 2, 1).astype("<f4")
    pieces = [positions, normals, uvs, joints, weights, morph, indices, binds.reshape(2, 16)]
    images = [_png(64, 1), _png(64, 2, alpha=True)]
    binary = b""
    views = []
    for piece in [*(p.tobytes() for p in pieces), *images]:
        binary += b"\0" * (-len(binary) % 4)
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(piece)})
        binary += piece
    kinds = [("VEC3", FLOAT), ("VEC3", FLOAT), ("VEC2", FLOAT), ("VEC4", UNSIGNED_SHORT), ("VEC4", FLOAT),
             ("VEC3", FLOAT), ("SCALAR", UNSIGNED_SHORT), ("MAT4", FLOAT)]  # fmt: skip
    accessors: list[dict[str, Any]] = [
        {"bufferView": i, "type": t, "componentType": c, "count": len(p)}
        for i, ((t, c), p) in enumerate(zip(kinds, pieces, strict=True))
    ]
    for i in (0, 5):
        accessors[i] |= {"min": pieces[i].min(axis=0).tolist(), "max": pieces[i].max(axis=0).tolist()}
    document = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0, 3]}],
        "nodes": [
            {"name": "Hips", "translation": [0, 0.9, 0], "children": [1]},
            {"name": "Head", "translation": [0, 0.6, 0]},
            {"name": "unused"},
            {"name": "Body", "mesh": 0, "skin": 0},
        ],
        "skins": [{"joints": [0, 1], "inverseBindMatrices": 7}],
        "meshes": [
            {
                "primitives": [
                    {
                        "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2, "JOINTS_0": 3, "WEIGHTS_0": 4},
                        "targets": [{"POSITION": 5}],
                        "indices": 6,
                        "material": 0,
                    }
                ],
                "extras": {"targetNames": ["forward"]},
            }
        ],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        "textures": [{"source": 0}],
        "images": [{"bufferView": 8, "mimeType": "image/png"}, {"bufferView": 9, "mimeType": "image/png"}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
        "extensionsUsed": ["VRMC_vrm"],
        "extensions": {"VRMC_vrm": {"specVersion": "1.0", "meta": {"name": "strip", "thumbnailImage": 1}}},
    }
    return glb.write(document, binary)


WEB = webpack.PackOptions(geometry=True, webp=True, webp_quality=90, thumbnail_jpeg=True)


@pytest.fixture(scope="module")
def original() -> bytes:
    return _glb()


def test_a_packed_file_is_smaller_declares_what_it_needs_and_keeps_every_vrm_index(original):
    packed = webpack.pack(original, WEB)
    assert len(packed.data) < len(original) / 2
    document, _binary = glb.read(packed.data)
    before, _ = glb.read(original)
    required = set(document["extensionsRequired"])
    assert required == {"KHR_mesh_quantization", "EXT_meshopt_compression", "EXT_texture_webp"}
    assert document["extensions"] == before["extensions"]  # VRMC_vrm untouched: thumbnail image 1 still
    assert (document["nodes"], document["skins"][0]["joints"], document["meshes"][0]["extras"]) == (
        before["nodes"],
        before["skins"][0]["joints"],
        before["meshes"][0]["extras"],
    )
    # The texture shows a WebP; the thumbnail stays the meta's image, as JPEG for hubs.
    texture = document["textures"][0]
    assert "source" not in texture
    assert document["images"][texture["extensions"]["EXT_texture_webp"]["source"]]["mimeType"] == "image/webp"
    assert document["images"][1]["mimeType"] == "image/jpeg"
    assert packed.uses_meshopt and not packed.skipped
    assert packed.figures["geometry"]["position_mm"] <= packed.figures["geometry"]["position_bound_mm"]


def test_the_compressed_views_decode_to_the_quantized_file_and_it_shows_the_original_within_bounds(original):
    packed = webpack.pack(original, WEB)
    decoded = glb.read(webpack.decoded(packed.data))
    plain = glb.read(packed.decoded)
    for index in range(len(plain[0]["accessors"])):
        if index == 6:  # triangle indices: the codec may start a triangle at another corner
            continue
        assert np.array_equal(accessor_array(*plain, index), accessor_array(*decoded, index)), index
    check = geometry_check.compare(glb.read(original), decoded, _orders(original), 64)
    assert not check.problems
    # 14-bit positions on a 1.7 m grid: a step of 0.104 mm, at most 0.09 mm off; 8-bit normals: under 0.5°;
    # texture coordinates within half a texel of the 64² textures.
    assert check.position_m < 0.9e-4 and check.normal_degrees < 0.5 and check.uv < 0.5 / 64
    stored = glb.read(packed.decoded)[0]["accessors"]
    assert stored[0]["componentType"] == UNSIGNED_SHORT and "normalized" not in stored[0]
    assert stored[5]["componentType"] == 5122  # morph deltas: SHORT on the same grid


def _orders(data: bytes) -> dict[int, Any]:
    """How the packing renumbers each vertex accessor's rows (deterministic: the same as pack's)."""
    return quantize.quantize(*glb.read(data))[2].orders


def test_vertices_are_renumbered_in_fetch_order_and_every_row_moves_with_its_vertex():
    # A mesh numbered at random compresses badly; packed, its triangles first use vertices 0, 1, 2, ... in
    # turn, and each vertex keeps its own position, normal, UV, joints, weights and morph delta.
    original = _glb(shuffled=True)
    before = glb.read(original)
    after = glb.read(webpack.pack(original, WEB).decoded)
    indices = accessor_array(*after, 6).reshape(-1)
    first_use = indices[np.sort(np.unique(indices, return_index=True)[1])]
    assert np.array_equal(first_use, np.arange(len(first_use)))
    assert not np.array_equal(accessor_array(*before, 6), accessor_array(*after, 6))  # it was renumbered
    old = _orders(original)[0].old
    check = geometry_check.compare(before, after, _orders(original), 64)
    assert not check.problems and check.position_m < 0.9e-4
    # Row by row, each packed vertex holds its original vertex's values (within the quantization).
    assert np.abs(_influences(*after) - _influences(*before)[old]).max() < 1e-4
    moved = np.flatnonzero(accessor_array(*after, 5)[:, 2])
    assert len(moved) == 6  # the morph still moves the top six, the same vertices
    assert np.array_equal(np.sort(old[moved]), np.flatnonzero(accessor_array(*before, 5)[:, 2]))


def _influences(document: dict[str, Any], binary: bytes) -> npt.NDArray[np.float64]:
    """The strip's skin as each vertex's weight per joint (vertices by 2 joints), however its pairs are listed."""
    joints = accessor_array(document, binary, 3).astype(np.intp)
    weights = accessor_array(document, binary, 4).astype(np.float64)
    weights /= {FLOAT: 1.0, UNSIGNED_SHORT: 65535.0, 5121: 255.0}[document["accessors"][4]["componentType"]]
    found = np.zeros((len(joints), 2))
    np.add.at(found, (np.repeat(np.arange(len(joints)), 4), joints.reshape(-1)), weights.reshape(-1))
    return found


def test_normals_go_through_the_octahedral_filter_within_three_quarters_of_a_degree():
    # meshopt's filter at 8 bits, each vector's grid point chosen for the smallest turn: rounding to the
    # nearest point alone turns some normals by more than the stated 1°.
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(20000, 3))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    decoded, rows = meshopt_codec.octahedral(vectors)
    shown = decoded[:, :3].astype(np.float64)
    shown /= np.linalg.norm(shown, axis=1, keepdims=True)
    turned = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", shown, vectors), -1, 1)))
    assert turned.max() < 0.75 and rows.shape == (len(vectors), 4)


def test_normals_are_stored_as_octahedral_rows_the_decoder_expands(original):
    packed = webpack.pack(original, WEB)
    document, _binary = glb.read(packed.data)
    normal_view = document["accessors"][1]["bufferView"]
    assert document["bufferViews"][normal_view]["extensions"]["EXT_meshopt_compression"]["filter"] == "OCTAHEDRAL"
    plain = glb.read(packed.decoded)
    accessor = plain[0]["accessors"][1]
    # KHR_mesh_quantization's layout for three.js: normalized bytes, rows of 4 (x, y, z and a pad).
    assert (accessor["componentType"], accessor.get("normalized")) == (5120, True)
    assert plain[0]["bufferViews"][accessor["bufferView"]]["byteStride"] == 4


def test_weights_exact_in_8_bits_are_stored_in_8_and_others_keep_16(original):
    document, binary = glb.read(original)
    rigid = np.zeros((82, 4), dtype="<f4")
    rigid[:41, 0] = rigid[41:, 1] = 1.0  # each vertex on one joint: 0 and 1 are exact in 8 bits
    view = document["bufferViews"][4]
    binary = binary[: view["byteOffset"]] + rigid.tobytes() + binary[view["byteOffset"] + view["byteLength"] :]
    data = glb.write(document, binary)
    plain = glb.read(webpack.pack(data, WEB).decoded)
    assert plain[0]["accessors"][4]["componentType"] == 5121  # UNSIGNED_BYTE
    assert np.array_equal(_influences(*plain), _influences(*glb.read(data))[_orders(data)[4].old])
    smooth = glb.read(webpack.pack(original, WEB).decoded)
    assert smooth[0]["accessors"][4]["componentType"] == UNSIGNED_SHORT  # 8 bits would move a bent limb


def test_data_nothing_reads_is_dropped_and_every_accessor_keeps_its_index(original):
    # As the VRM Add-on leaves a morph's normals it does not draw: an accessor no mesh, skin or animation names.
    document, binary = glb.read(original)
    document["accessors"].append(dict(document["accessors"][0]))  # the positions again, read by nothing
    with_unused = glb.write(document, binary)
    packed, plain = glb.read(webpack.pack(with_unused, WEB).data), glb.read(webpack.pack(original, WEB).data)
    assert len(packed[1]) == len(plain[1])  # not one byte of it stored
    assert len(packed[0]["accessors"]) == len(document["accessors"])  # indices unchanged: its entry stays
    assert "bufferView" not in packed[0]["accessors"][-1] and "min" not in packed[0]["accessors"][-1]
    # An extension this packing does not know might name it: then it is kept.
    document["extensionsUsed"].append("EXT_unknown_vendor")
    kept = glb.read(webpack.pack(glb.write(document, binary), WEB).data)
    assert "bufferView" in kept[0]["accessors"][-1]


def _with_morph_normals(data: bytes, deltas: list[npt.NDArray[np.float64]]) -> bytes:
    """The strip with one more morph target per delta array, each moving the normals only."""
    document, binary = glb.read(data)
    primitive = document["meshes"][0]["primitives"][0]
    for delta in deltas:
        binary += b"\0" * (-len(binary) % 4)
        document["bufferViews"].append({"buffer": 0, "byteOffset": len(binary), "byteLength": delta.nbytes})
        binary += delta.astype("<f4").tobytes()
        document["accessors"].append(
            {
                "bufferView": len(document["bufferViews"]) - 1,
                "type": "VEC3",
                "componentType": FLOAT,
                "count": len(delta),
            }
        )
        primitive["targets"].append({"NORMAL": len(document["accessors"]) - 1})
    document["buffers"][0]["byteLength"] = len(binary)
    return glb.write(document, binary)


def test_morph_normals_take_8_bits_where_the_morphed_normals_hold_and_a_filter_past_1(original):
    document, binary = glb.read(original)
    normals = accessor_array(document, binary, 1).astype(np.float64)
    tilt = np.cross(normals, [0.0, 1.0, 0.0]) * 0.2  # turns each normal about 11°
    # Leaves each normal 40% long (and a little turned): an 8-bit step would turn it by up to a degree.
    shorten = -0.6 * normals + np.random.default_rng(2).normal(0, 0.03, normals.shape)
    data = _with_morph_normals(original, [tilt, shorten, -2.0 * normals * [1, 0, 1]])
    packed = webpack.pack(data, WEB)  # proves each morphed normal within 1° of the original's
    assert packed.figures["geometry"]["normal_degrees"] <= 1.0
    stored = glb.read(packed.decoded)[0]["accessors"]
    assert (stored[8]["componentType"], stored[9]["componentType"]) == (5120, 5122)  # 8 bits, 16 bits
    # Past 1 (normals turned over): floats, through meshopt's exponential filter.
    views = glb.read(packed.data)[0]["bufferViews"]
    assert stored[10]["componentType"] == FLOAT
    assert views[stored[10]["bufferView"]]["extensions"]["EXT_meshopt_compression"]["filter"] == "EXPONENTIAL"


def test_quantized_weights_still_sum_to_one_exactly(original):
    plain = glb.read(webpack.pack(original, WEB).decoded)
    weights = accessor_array(*plain, 4).astype(np.int64)
    assert plain[0]["accessors"][4]["componentType"] == UNSIGNED_SHORT
    assert (weights.sum(axis=1) == 65535).all()


def test_a_grid_not_folded_into_the_inverse_binds_is_caught_by_the_geometry_check(original, monkeypatch):
    # What the check is for: a quantized file that would show the avatar elsewhere is never written.
    monkeypatch.setattr(quantize, "_fold_grids", lambda _source, _grids: {})
    with pytest.raises(webpack.PackError, match="vertices moved"):
        webpack.pack(original, WEB)


def test_the_geometry_check_sees_a_morph_that_moves_a_vertex_only_in_the_packed_file(original):
    # The check looks only at the rows a morph moves; a row the original's morph leaves still but the
    # packed one's moves is one of them.
    document, binary = glb.read(original)
    view = document["bufferViews"][document["accessors"][5]["bufferView"]]
    assert not np.frombuffer(binary, "<f4", 3, view["byteOffset"]).any()  # vertex 0 stays put in the original
    moved = bytearray(binary)
    moved[view["byteOffset"] : view["byteOffset"] + 12] = np.array([0.0, 0.0, 0.002], "<f4").tobytes()
    check = geometry_check.compare((document, binary), (document, bytes(moved)))
    assert check.position_m == pytest.approx(0.002, abs=1e-6) and "vertices moved" in check.problems[0]


def test_without_the_meshopt_binding_the_textures_are_packed_and_the_geometry_left_as_it_is(original, monkeypatch):
    monkeypatch.setitem(sys.modules, "meshopt", None)  # as on a Python the binding has no wheel for
    packed = webpack.pack(original, WEB)
    assert packed.skipped == ["geometry compression (the meshopt package is not installed for this Python)"]
    document, _binary = glb.read(packed.data)
    assert not packed.uses_meshopt and "EXT_meshopt_compression" not in document["extensionsUsed"]
    assert "KHR_mesh_quantization" not in document["extensionsUsed"]
    assert document["extensionsRequired"] == ["EXT_texture_webp"]


def test_a_texture_fallback_keeps_the_png_beside_the_webp(original):
    packed = webpack.pack(original, webpack.PackOptions(geometry=False, webp=True, texture_fallback=True))
    document, _binary = glb.read(packed.data)
    texture = document["textures"][0]
    assert document["images"][texture["source"]]["mimeType"] == "image/png"
    assert document["images"][texture["extensions"]["EXT_texture_webp"]["source"]]["mimeType"] == "image/webp"
    assert "EXT_texture_webp" in document["extensionsUsed"] and "extensionsRequired" not in document


def test_textures_encoded_at_once_each_show_their_own_image():
    # The encodings run on several threads at once: each texture must still get its own image's WebP
    # (a normal map losslessly), an image two textures share one WebP, and the thumbnail its own JPEG.
    sizes = [64, 48, 40, 32]
    pngs = [_png(size, seed, alpha=seed == 2) for seed, size in enumerate(sizes)]
    binary = b""
    views = []
    for png in pngs:
        binary += b"\0" * (-len(binary) % 4)
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(png)})
        binary += png
    document: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "images": [{"bufferView": i, "mimeType": "image/png"} for i in range(len(pngs))],
        "textures": [{"source": 0}, {"source": 1}, {"source": 2}, {"source": 0}, {"source": 3}],
        "materials": [{"normalTexture": {"index": 1}, "pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
        "extensionsUsed": ["VRMC_vrm"],
        "extensions": {"VRMC_vrm": {"meta": {"thumbnailImage": 3}}},
    }
    options = textures.WebpOptions(quality=90, lossless=False, fallback=False, thumbnail_jpeg=True)
    document, binary, stats = textures.to_webp(document, binary, options)

    def pixels(image: int) -> npt.NDArray[np.int16]:
        data = glb.view_bytes(document, binary, document["images"][image]["bufferView"])
        with Image.open(io.BytesIO(data)) as picture:
            return np.asarray(picture.convert("RGBA"), dtype=np.int16)

    def original(image: int) -> npt.NDArray[np.int16]:
        with Image.open(io.BytesIO(pngs[image])) as picture:
            return np.asarray(picture.convert("RGBA"), dtype=np.int16)

    shown = [t["extensions"]["EXT_texture_webp"]["source"] for t in document["textures"]]
    assert shown[0] == shown[3] and len(set(shown)) == 4
    for texture, image in zip(shown, (0, 1, 2, 0, 3), strict=True):
        assert document["images"][texture]["mimeType"] == "image/webp"
        got, want = pixels(texture), original(image)
        assert got.shape == want.shape
        if image == 1:  # the normal map: lossless
            assert np.array_equal(got, want)
        else:
            assert np.sqrt(np.mean((got - want) ** 2)) < 5.0  # lossy, on noise of 4 levels
    thumbnail = document["extensions"]["VRMC_vrm"]["meta"]["thumbnailImage"]
    assert document["images"][thumbnail]["mimeType"] == "image/jpeg"
    assert thumbnail == 3 and pixels(thumbnail).shape == original(3).shape
    assert stats.images == 5  # four WebPs (the thumbnail's texture gets its own) and the JPEG


@pytest.mark.parametrize(
    "options",
    [WEB, webpack.PackOptions(geometry=True, webp=True, webp_lossless=True, texture_fallback=True)],
    ids=["webp-and-jpeg-thumbnail", "lossless-with-fallback"],
)
def test_textures_encoded_beside_the_geometry_give_the_file_the_steps_one_after_another_give(original, options):
    # pack() encodes the textures on a worker thread while the geometry is quantized, then swaps them in: the
    # file must be the one the steps make in turn (textures, then the quantization that lays every view out,
    # then meshopt), byte for byte: images replaced in place and appended, the thumbnail as JPEG, the
    # extension lists in the same order.
    packed = webpack.pack(original, options)
    assert (packed.data, packed.decoded) == _step_by_step(original, options)
    assert {"textures", "quantize", "geometry check", "meshopt"} <= packed.stages.keys()


def test_a_layout_the_texture_swap_does_not_know_is_quantized_again_with_its_textures(original, monkeypatch):
    monkeypatch.setattr(webpack, "_with_images", lambda _quantized, _textured: None)
    packed = webpack.pack(original, WEB)
    assert (packed.data, packed.decoded) == _step_by_step(original, WEB)


def _step_by_step(data: bytes, options: webpack.PackOptions) -> tuple[bytes, bytes]:
    """The packed file and its decoded form made by the packing's steps in turn, on one thread."""
    document, binary = glb.read(data)
    webp = textures.WebpOptions(
        options.webp_quality, options.webp_lossless, options.texture_fallback, options.thumbnail_jpeg
    )
    document, binary, _texture_stats = textures.to_webp(copy.deepcopy(document), binary, webp)
    side = textures.largest_side(*glb.read(data))
    document, binary, stats = quantize.quantize(json_numbers.shortest(document), binary, texture_side=side)
    return glb.write(*meshopt_codec.encode(document, binary, stats.filtered)[:2]), glb.write(document, binary)


def test_an_import_accepts_a_compressed_file_and_refuses_one_whose_compressed_bytes_are_not_there(
    original, tmp_path: Path
):
    data = webpack.pack(original, WEB).data
    assert model_refs.import_problem(tmp_path / "a.glb", "glb", data) is None
    document, binary = glb.read(data)
    broken = copy.deepcopy(document)
    view = next(v for v in broken["bufferViews"] if "extensions" in v)
    view["extensions"][meshopt_codec.EXTENSION]["byteLength"] = len(binary) + 1
    problem = model_refs.import_problem(tmp_path / "a.glb", "glb", glb.write(broken, binary))
    assert problem is not None and "bufferViews" in problem
    assert json.dumps(document).count('"fallback": true') == 1


def test_json_numbers_are_the_shortest_that_read_back_as_the_same_float32(original):
    # Exporters write float32 values as 17-digit doubles; the packed file spells each with the fewest
    # digits that read back as the same float32, and leaves an application's extras as they are.
    document, binary = glb.read(original)
    long = float(np.float32(0.9))  # 0.8999999761581421
    tiny = float(np.float32(2.3841858e-07))
    document["nodes"][1]["translation"] = [tiny, long, 0]
    document["extensions"]["VRMC_vrm"]["lookAt"] = {"offsetFromHeadBone": [0, long, tiny]}
    document["nodes"][2]["extras"] = {"timestamp": 1764000000.123456}
    packed = webpack.pack(glb.write(document, binary), WEB).data
    text = packed[20 : 20 + int.from_bytes(packed[12:16], "little")].decode()
    assert '"translation":[2.3841858e-07,0.9,0]' in text and "0.8999999761581421" not in text
    assert "1764000000.123456" in text
    after, _binary = glb.read(packed)
    assert after["extensions"] != document["extensions"]  # the spelling changed the doubles...
    assert same_as_float32(after["extensions"], document["extensions"])  # ...not the float32 values
    assert same_as_float32(after["nodes"], document["nodes"])
    assert not same_as_float32([0.9], [0.9000001])  # one float32 step apart is not the same


def _with_sparse_morphs(data: bytes, deltas: list[npt.NDArray[np.float64]]) -> bytes:
    """The strip with one more morph target per delta array, stored sparse (its moving rows only)."""
    document, binary = glb.read(data)
    primitive = document["meshes"][0]["primitives"][0]
    for delta in deltas:
        rows = np.flatnonzero(np.any(delta != 0, axis=1)).astype("<u2")
        parts = []
        for piece in (rows.tobytes(), delta[rows].astype("<f4").tobytes()):
            binary += b"\0" * (-len(binary) % 4)
            document["bufferViews"].append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(piece)})
            binary += piece
            parts.append(len(document["bufferViews"]) - 1)
        indices = {"bufferView": parts[0], "componentType": UNSIGNED_SHORT}
        sparse = {"count": len(rows), "indices": indices, "values": {"bufferView": parts[1]}}
        bounds = {"min": delta.min(axis=0).tolist(), "max": delta.max(axis=0).tolist()}
        document["accessors"].append({"type": "VEC3", "componentType": FLOAT, "count": len(delta), "sparse": sparse})
        document["accessors"][-1] |= bounds
        primitive["targets"].append({"POSITION": len(document["accessors"]) - 1})
    document["buffers"][0]["byteLength"] = len(binary)
    return glb.write(document, binary)


def test_a_sparse_morph_is_stored_dense_where_meshopt_stores_that_in_fewer_bytes(original):
    # A target that moves every vertex (a body morph) is smaller as dense rows than as indices and values;
    # one that moves two vertices stays sparse. Both still move the same vertices as far.
    heights = accessor_array(*glb.read(original), 0)[:, 1].astype(np.float64)
    everywhere = np.stack([0.01 * heights, 0.002 * np.sin(9 * heights), 0.005 * heights], axis=1)
    two = np.zeros_like(everywhere)
    two[[3, 60]] = [0.0, 0.004, 0.001]
    data = _with_sparse_morphs(original, [everywhere, two])
    packed = webpack.pack(data, WEB)  # proves every morphed vertex within the bound
    stored = glb.read(packed.decoded)[0]["accessors"]
    assert "sparse" not in stored[8] and "bufferView" in stored[8]
    assert stored[9]["sparse"]["count"] == 2 and "bufferView" not in stored[9]
    moved = accessor_array(*glb.read(packed.decoded), 8)
    assert np.count_nonzero(np.any(moved != 0, axis=1)) == np.count_nonzero(np.any(everywhere != 0, axis=1))
    assert packed.figures["geometry"]["position_mm"] <= packed.figures["geometry"]["position_bound_mm"]


def test_each_vertex_lists_its_joints_in_order_with_the_same_influences(original):
    # Exporters list a vertex's pairs by weight, so neighbours swap columns where their weights cross; packed,
    # the pairs of weight 0 come first (joint 0) and the others by joint, each joint keeping its weight.
    plain = glb.read(webpack.pack(original, WEB).decoded)
    joints, weights = accessor_array(*plain, 3).astype(np.int64), accessor_array(*plain, 4)
    listed = np.where(weights > 0, joints, -1)
    assert (np.diff(listed, axis=1) >= 0).all() and (joints[weights == 0] == 0).all()
    before = glb.read(original)
    assert not np.array_equal(accessor_array(*before, 3)[_orders(original)[3].old], joints)  # it was reordered
    assert np.abs(_influences(*plain) - _influences(*before)[_orders(original)[3].old]).max() < 1e-4


def test_the_geometry_check_sees_a_joint_that_lost_its_weight(original):
    # The rest pose places a vertex alike whatever its joints (every joint is at its bind): the check
    # compares each vertex's weight per joint, so joints swapped without their weights are caught.
    document, binary = glb.read(original)
    view = document["bufferViews"][3]
    joints = accessor_array(document, binary, 3).copy()
    joints[:, [0, 1]] = joints[:, [1, 0]]
    swapped = binary[: view["byteOffset"]] + joints.tobytes() + binary[view["byteOffset"] + view["byteLength"] :]
    check = geometry_check.compare((document, binary), (document, swapped))
    assert check.position_m < 1e-6  # unseen in the rest pose
    assert "skin weights changed" in check.problems[0]


def test_texture_coordinates_take_the_grid_the_largest_texture_allows(original):
    # The strip's images are 64² (the thumbnail too): its coordinates take a grid of 127 steps, a quarter
    # of a texel, stored as 16-bit integers; a file whose textures may be tiled keeps all 16 bits.
    assert textures.largest_side(*glb.read(original)) == 64
    packed = webpack.pack(original, WEB)
    stored = accessor_array(*glb.read(packed.decoded), 2).astype(np.float64) / 65535.0
    assert np.abs(stored * 127 - np.rint(stored * 127)).max() < 127 / 65535
    geometry = packed.figures["geometry"]
    assert 1e-3 < geometry["uv"] <= geometry["uv_bound"] and geometry["uv_bound"] == pytest.approx(0.5 / 64, 1e-3)
    document, binary = glb.read(original)
    document["extensionsUsed"].append("KHR_texture_transform")
    tiled = webpack.pack(glb.write(document, binary), WEB)
    assert tiled.figures["geometry"]["uv"] < 1e-5


def test_a_grid_coarser_than_the_textures_allow_is_caught_by_the_geometry_check(original, monkeypatch):
    coarse = dataclasses.replace(quantize.UV, steps=15)  # 4 bits: 1/30 off, two texels of a 64² texture
    monkeypatch.setattr(quantize, "uv_encoding", lambda _document, _side: coarse)
    with pytest.raises(webpack.PackError, match="texture coordinates moved"):
        webpack.pack(original, WEB)
