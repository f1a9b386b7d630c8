"""Shape-key names from the conventions artists bring, mapped to VRM expressions (no bpy)."""

from __future__ import annotations

import pytest

from addon.core.vrm.expressions import (
    PRESETS,
    VRM0_PRESET,
    expression_for,
    map_shape_keys,
    vrm1_name_of_group,
    vrm1_preset_of,
)


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


@pytest.mark.parametrize(
    ("shape_key", "expression"),
    [
        # VRChat avatars keep their keys in folders.
        ("viseme/aa", "aa"), ("viseme/ih", "ih"), ("viseme/ou", "ou"), ("viseme/e", "ee"), ("viseme/oh", "oh"),
        ("eye/blink", "blink"), ("eye/blink_l", "blinkLeft"), ("eye/blink_r", "blinkRight"),
        # UniVRM's samples.
        ("lip_a", "aa"), ("lip_i", "ih"), ("lip_u", "ou"), ("lip_e", "ee"), ("lip_o", "oh"),
        ("face_happy", "happy"), ("face_angry", "angry"), ("face_sad", "sad"), ("face_fun", "relaxed"),
        ("face_surprised", "surprised"), ("MTH_A", "aa"), ("MTH_I", "ih"), ("MTH_U", "ou"), ("MTH_E", "ee"),
        ("MTH_O", "oh"), ("EYE_Close_L", "blinkLeft"),
        # Oculus visemes (Ready Player Me and most web avatars).
        ("viseme_aa", "aa"), ("viseme_I", "ih"), ("viseme_U", "ou"), ("viseme_E", "ee"), ("viseme_O", "oh"),
        ("viseme_sil", None), ("viseme_PP", None),
        # Microsoft Rocketbox visemes.
        ("AE_AA_h", "aa"), ("IH_IY_h", "ih"), ("UW_h", "ou"), ("EH_h", "ee"), ("OW_h", "oh"),
    ],
)  # fmt: skip
def test_names_artists_give_their_keys_mean_their_expression(shape_key, expression):
    assert expression_for(shape_key) == expression


def test_vrm0_groups_take_their_vrm1_names():
    pairs = {"a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh", "joy": "happy", "sorrow": "sad",
             "fun": "relaxed", "angry": "angry", "blink": "blink", "blink_l": "blinkLeft", "blink_r": "blinkRight",
             "lookup": "lookUp", "lookdown": "lookDown", "neutral": "neutral"}  # fmt: skip
    for vrm0, vrm1 in pairs.items():
        assert vrm1_preset_of(vrm0) == vrm1
        assert vrm1_name_of_group(vrm0, "Whatever") == vrm1
    assert vrm1_preset_of("unknown") is None
    assert vrm1_name_of_group("unknown", "Surprised") == "surprised"
    assert vrm1_name_of_group("unknown", "Smirk") == "Smirk"  # custom stays custom
