"""Shape-key names from the conventions artists bring, mapped to VRM expressions (no bpy)."""

from __future__ import annotations

import pytest

from addon.core.expressions import PRESETS, VRM0_PRESET, expression_for, map_shape_keys


@pytest.mark.parametrize(
    ("shape_key", "expression"),
    [
        ("vrc.v_aa", "aa"), ("vrc.v_ih", "ih"), ("vrc.v_ou", "ou"), ("vrc.v_e", "ee"), ("vrc.v_ee", "ee"),
        ("vrc.blink", "blink"), ("vrc.blink_left", "blinkLeft"), ("vrc.blink_right", "blinkRight"),
        ("Fcl_MTH_A", "aa"), ("Fcl_MTH_O", "oh"), ("Fcl_EYE_Close", "blink"), ("Fcl_EYE_Close_R", "blinkRight"),
        ("Fcl_ALL_Joy", "happy"), ("Fcl_ALL_Angry", "angry"), ("Fcl_ALL_Sorrow", "sad"), ("Fcl_ALL_Fun", "relaxed"),
        ("Fcl_ALL_Surprised", "surprised"), ("Fcl_ALL_Neutral", "neutral"),
        ("jawOpen", "aa"), ("eyeBlinkLeft", "blinkLeft"), ("eyeBlinkRight", "blinkRight"),
        ("eyeLookUpLeft", "lookUp"), ("eyeLookDownRight", "lookDown"),
        ("A", "aa"), ("I", "ih"), ("U", "ou"), ("E", "ee"), ("O", "oh"), ("あ", "aa"), ("まばたき", "blink"),
        ("mouth_a", "aa"), ("Mouth-O", "oh"), ("blink_L", "blinkLeft"),
        ("aa", "aa"), ("blinkLeft", "blinkLeft"), ("lookRight", "lookRight"), ("Surprised", "surprised"),
        ("Basis", None), ("MTH_Extra", None), ("eyeSquintLeft", None),
    ],
)  # fmt: skip
def test_names_from_each_convention_mean_their_expression(shape_key, expression):
    assert expression_for(shape_key) == expression


def test_a_vrchat_avatar_gets_every_viseme_and_blink():
    keys = ["Basis", "vrc.v_aa", "vrc.v_ih", "vrc.v_ou", "vrc.v_e", "vrc.v_oh", "vrc.blink", "vrc.v_sil"]
    assert map_shape_keys(keys) == {
        "aa": ["vrc.v_aa"], "ih": ["vrc.v_ih"], "ou": ["vrc.v_ou"], "ee": ["vrc.v_e"], "oh": ["vrc.v_oh"],
        "blink": ["vrc.blink"],
    }  # fmt: skip


def test_a_dedicated_viseme_wins_over_an_arkit_approximation():
    # jawOpen only stands in for "aa" when nothing better names it, whatever the order of the keys.
    assert map_shape_keys(["jawOpen", "Fcl_MTH_A"])["aa"] == ["Fcl_MTH_A"]
    assert map_shape_keys(["Fcl_MTH_A", "jawOpen"])["aa"] == ["Fcl_MTH_A"]
    assert map_shape_keys(["jawOpen"])["aa"] == ["jawOpen"]


def test_arkit_looks_bind_both_eyes():
    keys = ["eyeLookUpLeft", "eyeLookUpRight", "eyeLookOutLeft", "eyeLookInRight", "eyeLookInLeft", "eyeLookOutRight"]
    found = map_shape_keys(keys)
    assert found["lookUp"] == ["eyeLookUpLeft", "eyeLookUpRight"]
    assert found["lookLeft"] == ["eyeLookOutLeft", "eyeLookInRight"]
    assert found["lookRight"] == ["eyeLookInLeft", "eyeLookOutRight"]


def test_expressions_the_user_assigned_are_left_alone():
    found = map_shape_keys(["A", "I", "blink"], keep=["aa", "blink"])
    assert found == {"ih": ["I"]}


def test_every_preset_but_surprised_has_a_vrm0_preset():
    assert set(PRESETS) - set(VRM0_PRESET) == {"surprised"}
