"""The structured scene commands on the socket (create, modify, duplicate, delete, set_material), driven by
a raw client against `forge.py serve` in Blender's startup scene: what each leaves in the scene, that each
is one undo step, and that every refused call says why and changes nothing."""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.server.serving import Client, Serving


@pytest.fixture(scope="module")
def client():
    with Serving() as serving:
        yield serving.client()


def names(client: Client) -> set[str]:
    return {o["name"] for o in client.result("get_scene_info")["objects"]}


def refused(client: Client, command: str, **params: Any) -> str:
    before = client.result("get_scene_info")
    reply = client.request(command, **params)
    assert reply["status"] == "error", reply
    assert client.result("get_scene_info") == before  # a refused call changes nothing
    message: str = reply["message"]
    assert "\n" not in message and "Traceback" not in message
    return message


def box(info: dict[str, Any]) -> list[list[float]]:
    return [[round(v, 3) for v in corner] for corner in info["world_bounding_box"]]


def undo(client: Client) -> None:
    client.result("execute_code", code="bpy.ops.ed.undo()")


def test_every_kind_is_created_as_asked(client):
    made = {
        kind: client.result("create_object", type=kind, name=f"Made-{kind}", location=[5, 0, 0])
        for kind in ("cube", "uv_sphere", "ico_sphere", "cylinder", "cone", "plane", "circle", "monkey")
    }
    assert all(info["type"] == "MESH" and info["location"] == [5, 0, 0] for info in made.values())
    assert box(made["cube"]) == [[4, -1, -1], [6, 1, 1]]  # Blender's own default: 2 m across
    assert made["uv_sphere"]["mesh"]["polygons"] == 32 * 16
    small = client.result("create_object", type="cube", name="Small", size=0.5, scale=[2, 1, 1])
    assert box(small) == [[-0.5, -0.25, -0.25], [0.5, 0.25, 0.25]]
    light = client.result("create_object", type="spot_light", name="Key", energy=250, color=[1, 0.5, 0.25])
    assert light["type"] == "LIGHT"
    spot = client.result("execute_code", code="l=bpy.data.objects['Key'].data; print(l.type, l.energy, l.color[:])")
    assert spot["result"].split(None, 2) == ["SPOT", "250.0", "(1.0, 0.5, 0.25)\n"]
    assert client.result("create_object", type="empty", name="Pivot")["type"] == "EMPTY"
    assert client.result("create_object", type="camera", name="Shot")["type"] == "CAMERA"


def test_a_child_keeps_its_world_placement_and_follows_its_parent(client):
    client.result("create_object", type="cube", name="Torso", size=1, location=[0, 3, 1])
    hat = client.result("create_object", type="cone", name="Cap", size=0.5, location=[0, 3, 2], parent="Torso")
    assert hat["parent"] == "Torso" and box(hat) == [[-0.25, 2.75, 1.75], [0.25, 3.25, 2.25]]
    client.result("modify_object", name="Torso", location=[1, 3, 1])
    moved = client.result("get_object_info", name="Cap")
    assert box(moved) == [[0.75, 2.75, 1.75], [1.25, 3.25, 2.25]]  # the child went along
    freed = client.result("modify_object", name="Cap", parent=None)
    assert freed["parent"] is None and box(freed) == box(moved)  # and stays put when let go
    client.result("modify_object", name="Torso", location=[0, 3, 1])
    assert box(client.result("get_object_info", name="Cap")) == box(moved)


def test_rename_hide_and_show(client):
    client.result("create_object", type="ico_sphere", name="Bead")
    hidden = client.result("modify_object", name="Bead", new_name="Pearl", visible=False)
    assert hidden["name"] == "Pearl" and hidden["visible"] is False
    assert "Bead" not in names(client)
    render = client.result("execute_code", code="print(bpy.data.objects['Pearl'].hide_render)")
    assert render["result"] == "True\n"  # hidden in renders too, not only in the viewport
    assert client.result("modify_object", name="Pearl", visible=True)["visible"] is True


def test_each_command_is_one_undo_step(client):
    client.result("create_object", type="cube", name="Step")
    client.result("modify_object", name="Step", location=[0, 0, 4])
    client.result("set_material", object="Step", base_color=[1, 0, 0])
    client.result("duplicate_object", name="Step", new_name="StepCopy")
    client.result("delete_object", name="Step")
    assert "Step" not in names(client)
    undo(client)  # the delete
    assert {"Step", "StepCopy"} <= names(client)
    undo(client)  # the duplicate
    assert "StepCopy" not in names(client) and client.result("get_object_info", name="Step")["materials"] == ["Step"]
    undo(client)  # the material
    assert client.result("get_object_info", name="Step")["materials"] == []
    undo(client)  # the move
    assert client.result("get_object_info", name="Step")["location"] == [0, 0, 0]
    undo(client)  # the creation
    assert "Step" not in names(client)


def test_delete_leaves_children_where_they_are(client):
    client.result("create_object", type="empty", name="Rig", location=[0, -3, 1], scale=[2, 2, 2])
    client.result("create_object", type="cube", name="Boot", size=0.2, location=[0, -3, 0.1], parent="Rig")
    before = box(client.result("get_object_info", name="Boot"))
    assert client.result("delete_object", name="Rig") == {"deleted": "Rig", "unparented": ["Boot"]}
    after = client.result("get_object_info", name="Boot")
    assert after["parent"] is None and box(after) == before


def test_duplicate_copies_the_mesh_unless_linked(client):
    client.result("create_object", type="cylinder", name="Sleeve", size=0.4)
    client.result("set_material", object="Sleeve", material="Cloth", base_color=[0, 0, 1])
    copy = client.result("duplicate_object", name="Sleeve", new_name="SleeveR", location=[1, 0, 0])
    assert copy["materials"] == ["Cloth"] and copy["location"] == [1, 0, 0]
    twin = client.result("duplicate_object", name="Sleeve", new_name="SleeveL", linked=True)
    code = "d=bpy.data.objects; print(d['Sleeve'].data == d['SleeveR'].data, d['Sleeve'].data == d['SleeveL'].data)"
    assert client.result("execute_code", code=code)["result"] == "False True\n"
    assert twin["name"] == "SleeveL"


def test_set_material_reads_back_principled_and_mtoon_values(client):
    client.result("create_object", type="uv_sphere", name="Face")
    skin = client.result(
        "set_material", object="Face", material="Skin", base_color=[0.9, 0.7, 0.6], metallic=0.0, roughness=0.6,
        emission_color=[1, 0, 0], emission_strength=0.5,
    )  # fmt: skip
    assert skin["material"] == "Skin" and skin["mtoon"] is False and skin["slot"] == 0
    assert skin["base_color"] == [0.9, 0.7, 0.6, 1.0] and skin["roughness"] == 0.6
    assert skin["emission_color"] == [1, 0, 0] and skin["emission_strength"] == 0.5
    toon = client.result(
        "set_material", object="Face", mtoon=True, base_color=[0.9, 0.7, 0.6, 0.5], shade_color=[0.6, 0.4, 0.4],
        rim_color=[1, 1, 1], outline_color=[0.1, 0, 0],
    )  # fmt: skip
    assert toon["material"] == "Skin" and toon["mtoon"] is True  # the object's own material, made MToon
    assert toon["base_color"] == [0.9, 0.7, 0.6, 0.5] and toon["shade_color"] == [0.6, 0.4, 0.4]
    assert toon["rim_color"] == [1, 1, 1] and toon["outline_color"] == [0.1, 0, 0]
    code = "m=bpy.data.materials['Skin'].vrm_addon_extension.mtoon1; print(m.enabled, m.alpha_mode)"
    assert client.result("execute_code", code=code)["result"] == "True OPAQUE\n"
    back = client.result("set_material", object="Face", mtoon=False, metallic=1.0)
    assert back["mtoon"] is False and back["metallic"] == 1.0


def _png(path: Path, rgb: tuple[int, int, int], size: int = 4) -> Path:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = size.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = b"".join(b"\0" + bytes(rgb) * size for _ in range(size))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")
    )
    return path


def test_set_material_uses_an_image_as_the_base_colour(client, tmp_path):
    client.result("create_object", type="plane", name="Patch")
    image = _png(tmp_path / "plaid.png", (200, 30, 30))
    result = client.result("set_material", object="Patch", image=str(image))
    assert result["image"] == "plaid.png"
    code = (
        "n=bpy.data.materials['Patch'].node_tree.nodes; i=n['Avatar Forge Base Color']; "
        "print(i.image.size[:], i.outputs['Color'].links[0].to_socket.name)"
    )
    assert client.result("execute_code", code=code)["result"] == "(4, 4) Base Color\n"


def test_image_paths_that_are_not_images_are_refused_and_leave_nothing_loaded(client, tmp_path):
    client.result("create_object", type="plane", name="Target")
    fake = tmp_path / "secret.png"
    fake.write_text("password=hunter2\n")
    for value, expected in (
        ("/etc/passwd", "must be an absolute path to a .png, .jpg, .jpeg, .webp file"),
        ("relative/skin.png", "must be an absolute path"),
        (str(tmp_path / "absent.png"), "no such file"),
        (str(tmp_path), "must be an absolute path to a .png"),
        (str(fake), "Blender cannot read secret.png as an image"),
    ):
        assert expected in refused(client, "set_material", object="Target", image=value), value
    loaded = client.result("execute_code", code="print(sorted(i.name for i in bpy.data.images))")["result"]
    assert "secret.png" not in loaded
    assert "hunter2" not in refused(client, "set_material", object="Target", image=str(fake))


def test_refusals_name_the_problem_and_change_nothing(client):
    client.result("create_object", type="cube", name="Taken")
    client.result("create_object", type="empty", name="Outer")
    client.result("create_object", type="empty", name="Inner", parent="Outer")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("create_object", {"type": "cube", "name": "Taken"}, "an object named Taken exists"),
        ("create_object", {"type": "teapot"}, "'type' must be one of cube, uv_sphere"),
        ("create_object", {}, "create_object needs 'type'"),
        ("create_object", {"type": "cube", "colour": [1, 0, 0]}, "create_object has no parameter 'colour'"),
        ("create_object", {"type": "cube", "location": [0, 0]}, "'location' must hold 3 numbers, got 2"),
        ("create_object", {"type": "cube", "location": [0, 0, True]}, "'location[]' must be number, got boolean"),
        ("create_object", {"type": "cube", "size": 0}, "'size' must be greater than 0"),
        ("create_object", {"type": "cube", "scale": [1, math.inf, 1]}, "'scale[]' must be number, got NaN or infinity"),
        ("create_object", {"type": "cube", "energy": 5}, "'energy' and 'color' are a light's"),
        ("create_object", {"type": "cube", "parent": "Nobody"}, "Object not found: Nobody"),
        ("create_object", {"type": "cube", "name": "x" * 500}, "'name' must be at most 63 characters"),
        ("modify_object", {"name": "Nobody", "location": [0, 0, 1]}, "Object not found: Nobody"),
        ("modify_object", {"name": "Outer", "parent": "Inner"}, "Inner is Outer or one of its children"),
        ("modify_object", {"name": "Outer", "new_name": "Taken"}, "an object named Taken exists"),
        ("modify_object", {"name": "Taken", "visible": "no"}, "'visible' must be boolean, got string"),
        ("duplicate_object", {"name": "Taken", "new_name": "Outer"}, "an object named Outer exists"),
        ("delete_object", {"name": "Nobody"}, "Object not found: Nobody"),
        ("set_material", {"object": "Outer", "base_color": [1, 0, 0]}, "Outer (EMPTY) has no materials"),
        ("set_material", {"object": "Taken", "base_color": [2, 0, 0]}, "'base_color[]' must be at most 1"),
        ("set_material", {"object": "Taken", "shade_color": [1, 0, 0]}, "'shade_color' is an MToon colour"),
        ("set_material", {"object": "Taken", "mtoon": True, "roughness": 0.5}, "'roughness' does not apply"),
    ]
    for command, params, expected in cases:
        assert expected in refused(client, command, **params), (command, params)


def test_the_commands_are_announced_to_clients(client):
    capabilities = set(client.result("get_addon_info")["capabilities"])
    assert {"create_object", "modify_object", "set_material", "duplicate_object", "delete_object"} <= capabilities
