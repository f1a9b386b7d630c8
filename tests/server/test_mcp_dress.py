"""A "make a character and dress it" session as an assistant runs it: the official MCP SDK's stdio client
drives `forge.py mcp`, which drives `forge.py serve` with code execution denied. Only the structured scene
tools are used; the render at the end shows the character dressed, and the audit log shows no code ran."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.pixels import rows
from tests.server.serving import Serving
from tests.server.test_mcp_forge import Call, _params, error, ok, png, session

SKIN, SHIRT, HAT = [0.9, 0.7, 0.55], [0.8, 0.05, 0.05], [0.05, 0.1, 0.8]
BODY = {"type": "cylinder", "name": "Body", "size": 1, "location": [0, 0, 0.8], "scale": [0.5, 0.3, 1.2]}
TOON = {"mtoon": True}
SKIN_SHADE = {"shade_color": [0.7, 0.5, 0.4]}
STEPS: list[Call] = [
    ("get_scene_info", {}),
    ("delete_object", {"name": "Cube"}),  # Blender's startup cube
    ("create_object", BODY),
    ("create_object", {"type": "uv_sphere", "name": "Head", "size": 0.4, "location": [0, 0, 1.6], "parent": "Body"}),
    ("set_material", {"object": "Body", "material": "Skin", "base_color": SKIN, **TOON, **SKIN_SHADE}),
    ("set_material", {"object": "Head", "material": "Skin"}),
    ("duplicate_object", {"name": "Body", "new_name": "Shirt", "scale": [0.55, 0.35, 0.5], "location": [0, 0, 1.05]}),
    ("set_material", {"object": "Shirt", "material": "Shirt", "base_color": SHIRT, **TOON, "shade_color": [0.4, 0, 0]}),
    ("modify_object", {"name": "Shirt", "parent": "Body"}),
    ("create_object", {"type": "cone", "name": "Hat", "size": 0.4, "location": [0, 0, 1.95], "parent": "Head"}),
    ("set_material", {"object": "Hat", "base_color": HAT, "roughness": 0.8}),
    ("create_object", {"type": "sun_light", "name": "KeyLight", "energy": 3, "rotation": [0.6, 0, 0.3]}),
    ("modify_object", {"name": "Camera", "location": [0, -6, 1.2], "rotation": [math.pi / 2, 0, 0]}),
    ("modify_object", {"name": "Light", "visible": False}),
    ("get_viewport_screenshot", {"max_size": 96}),
    ("get_object_info", {"name": "Hat"}),
    ("execute_code", {"code": "print('never')"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def dressed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with Serving("--execute-code", "deny") as serving:
        out = session(_params("--port", serving.port), STEPS)
        out["audit"] = serving.audit_log.read_text()
    return out


def _at(result: Any, x: float, y: float) -> tuple[int, ...]:
    image = rows(png(result))
    return image[int(y * len(image))][int(x * len(image[0]))]


def test_every_step_succeeds_without_execute_code(dressed):
    for key, result in dressed.items():
        if ":" in key and not key.endswith("execute_code"):
            assert not result.isError, (key, result.content)
    assert "denied" in error(dressed[f"{len(STEPS) - 1}:execute_code"])  # the policy really was on
    code_lines = [line for line in dressed["audit"].splitlines() if 'type="execute_code"' in line]
    assert len(code_lines) == 1 and "outcome=error" in code_lines[0]  # no code ran for this session
    assert dressed["audit"].count('type="set_material" ms=') == 4


def test_the_character_is_built_as_asked(dressed):
    hat = ok(dressed["15:get_object_info"])
    assert hat["parent"] == "Head" and hat["materials"] == ["Hat"]
    assert ok(dressed["8:modify_object"])["parent"] == "Body"
    shirt = ok(dressed["7:set_material"])
    assert shirt["mtoon"] is True and shirt["base_color"] == [*SHIRT, 1.0]
    assert ok(dressed["5:set_material"])["material"] == "Skin"  # the head shares the body's material


def test_the_render_shows_the_character_dressed(dressed):
    shot = dressed["14:get_viewport_screenshot"]
    shirt, hat = _at(shot, 0.52, 0.55), _at(shot, 0.49, 0.19)
    face, legs = _at(shot, 0.48, 0.31), _at(shot, 0.48, 0.75)
    assert shirt[0] > 2 * shirt[2] and shirt[0] > 2 * shirt[1], shirt  # red at the chest
    assert hat[2] > 2 * hat[0], hat  # blue above the head
    for skin in (face, legs):  # skin-coloured head and legs
        assert skin[0] > skin[1] > skin[2] and skin[0] > 150, skin
