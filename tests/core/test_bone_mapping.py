"""Bone mapping on plain bone tables: name parsing, and the hierarchy fall-back when names say nothing."""

from __future__ import annotations

import numpy as np
import pytest

from addon.core import bone_mapping, demo_rig, humanoid
from addon.core.rig_model import BoneTable

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")


def _demo_table(rename=lambda name: name) -> BoneTable:
    bones = demo_rig.demo_bones()
    names = [rename(b.name) for b in bones]
    index = {b.name: i for i, b in enumerate(bones)}
    return BoneTable(
        names,
        [index[b.parent] if b.parent else -1 for b in bones],
        np.array([b.head for b in bones]),
        np.array([b.tail for b in bones]),
        np.ones(len(bones), dtype=bool),
    )


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("DEF-upper_arm.L", ("left", "upperarm", 0)),
        ("ORG-upper_arm.L", ("left", "upperarm", 3)),
        ("DEF-upper_arm.L.001", ("left", "upperarm", 4)),
        ("mixamorig:LeftForeArm", ("left", "forearm", 1)),
        ("J_Bip_R_UpperLeg", ("right", "upperleg", 1)),
        ("J_Bip_C_Hips", ("", "hips", 1)),
        ("calf_r", ("right", "calf", 2)),
        ("thumb_01_l", ("left", "thumb01", 2)),
        ("Right Hand", ("right", "hand", 2)),
        ("MCH-forearm_ik.L", None),
    ],
)
def test_parse_name(name, parsed):
    assert bone_mapping.parse_name(name) == parsed


def test_structure_alone_finds_the_required_bones_of_an_unnamed_rig():
    table = _demo_table()
    anonymous = BoneTable([f"Bone.{i:03d}" for i in range(len(table))], table.parents, table.heads,
                          table.tails, table.deform)  # fmt: skip
    found = bone_mapping.map_by_structure(anonymous)
    expected = {vrm: anonymous.names[table.index[name]] for vrm, name in demo_rig.vrm_mapping().items()}
    body = [vrm for vrm in expected if not any(part in vrm for part in ("Eye", *_FINGERS))]
    assert found.keys() >= humanoid.REQUIRED_VRM0
    assert found == {vrm: expected[vrm] for vrm in body}  # torso, neck, shoulders, limbs and toes, exactly


def test_propose_keeps_what_is_set_and_uses_each_bone_once():
    table = _demo_table()
    proposal = bone_mapping.propose_mapping(table, {"leftHand": "Hand.R", "hips": "NoSuchBone"})
    assert proposal["leftHand"] == "Hand.R" and proposal["hips"] == "Hips"
    assert "rightHand" not in proposal
    assert len(set(proposal.values())) == len(proposal)
