"""Bone mapping on plain bone tables: name parsing, and the hierarchy fall-back when names say nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from addon.core.demo import rig as demo_rig
from addon.core.rig import bone_mapping, humanoid
from addon.core.rig.model import BoneTable

_ROOT = Path(__file__).resolve().parents[2]
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
    proposal = bone_mapping.solve(table, {"leftHand": "Hand.R", "hips": "NoSuchBone"}).mapping
    assert proposal["leftHand"] == "Hand.R" and proposal["hips"] == "Hips"
    assert "rightHand" not in proposal
    assert len(set(proposal.values())) == len(proposal)


# --- skeletons as third-party tools build them (positions from the demo rig, names and structure theirs) ---

_REQUIRED_BODY = sorted(humanoid.REQUIRED_VRM1)


def _table(rename, reparent=None, extra=(), deform=None) -> BoneTable:
    """The demo skeleton with bones renamed (None drops a bone, its children move to its parent), parents
    changed ({name: new parent or None}) and extra bones ((name, parent, head, tail)) added."""
    demo = demo_rig.demo_bones()
    names = {b.name: rename(b.name) for b in demo}
    rows: list[list[Any]] = []
    for b in demo:
        if names[b.name] is None:
            continue
        parent = b.parent
        while parent is not None and names[parent] is None:
            parent = next(d.parent for d in demo if d.name == parent)
        rows.append([names[b.name], names[parent] if parent else None, b.head, b.tail])
    rows += [list(e) for e in extra]
    for row in rows:
        if reparent and row[0] in reparent:
            row[1] = reparent[row[0]]
    ordered: list[list[Any]] = []
    placed: set[str] = set()
    while len(ordered) < len(rows):  # parents before children, as Blender lists bones
        for row in rows:
            if row[0] not in placed and (row[1] is None or row[1] in placed):
                ordered.append(row)
                placed.add(row[0])
    index = {row[0]: i for i, row in enumerate(ordered)}
    flags = np.array([True if deform is None else deform(row[0]) for row in ordered], dtype=bool)
    return BoneTable(
        [r[0] for r in ordered],
        [index[r[1]] if r[1] else -1 for r in ordered],
        np.array([r[2] for r in ordered], dtype=float),
        np.array([r[3] for r in ordered], dtype=float),
        flags,
    )


def _expected(rename, vrm_bones=None) -> dict[str, str]:
    return {vrm: rename(name) for vrm, name in demo_rig.vrm_mapping().items() if vrm in (vrm_bones or [vrm])}


def _game_rig(legs_under_root: bool) -> BoneTable:
    """FBX2glTF-style game rig: `Root` at the feet above `Hips`, IK feet and pole targets under the root,
    `_end` tips, no fingers."""

    def rename(name):
        return (
            None
            if name[:-2] in {f"{f}{n}" for f in ("Thumb", "Index", "Middle", "Ring", "Little") for n in (1, 2, 3)}
            else name
        )

    extra: list[tuple[Any, ...]] = [
        ("Root", None, (0, 0, 0), (0, 0.1, 0)),
        ("Head_end", "Head", (0, -0.01, 1.7), (0, -0.01, 1.8)),
    ]
    for side, x in (("L", 0.1), ("R", -0.1)):
        extra += [
            (f"IKFoot.{side}", "Root", (x, 0.01, 0.09), (x, -0.1, 0.09)),
            (f"PoleTarget{side}", "Root", (x, -0.5, 0.5), (x, -0.6, 0.5)),
            (f"Thumb2.{side}_end", f"Hand.{side}", (x * 8, -0.05, 1.38), (x * 8.2, -0.05, 1.38)),
        ]
    reparent = {"Hips": "Root"}
    if legs_under_root:
        reparent |= {"UpperLeg.L": "Root", "UpperLeg.R": "Root"}
    return _table(rename, reparent, extra)


def _unnamed(table: BoneTable, keep=lambda name: False) -> BoneTable:
    """`table` with every bone renamed Bone.NNN (its index) except those `keep` says, all deforming: an
    FBX export of a rig whose author never named its bones."""
    names = [n if keep(n) else f"Bone.{i:03d}" for i, n in enumerate(table.names)]
    return BoneTable(names, table.parents, table.heads, table.tails, np.ones(len(names), dtype=bool))


_GAME_RIG_HELPERS = frozenset(
    {"IKFoot.L", "IKFoot.R", "PoleTargetL", "PoleTargetR", "Head_end", "Thumb2.L_end", "Thumb2.R_end"}
)


@pytest.mark.parametrize("named", [True, False], ids=["named", "unnamed"])
def test_ik_feet_pole_targets_and_tips_are_never_mapped(named):
    # Their names mean no humanoid bone, so unnamed (every other bone Bone.NNN) is what puts the exclusions to
    # work: the hierarchy alone would take the IK feet or the poles hanging from the root for the legs.
    rig = _game_rig(legs_under_root=False)
    table = rig if named else _unnamed(rig, keep=_GAME_RIG_HELPERS.__contains__)
    name = dict(zip(rig.names, table.names, strict=True))
    result = bone_mapping.solve(table)
    expected = {vrm: name[n] for vrm, n in _expected(lambda n: n).items() if n in name}
    assert result.mapping == {v: n for v, n in expected.items() if v in result.mapping}
    assert result.mapping.keys() >= humanoid.REQUIRED_VRM0 and result.reasons == {}
    assert not {name["Root"], *_GAME_RIG_HELPERS} & set(result.mapping.values())
    assert sorted(result.auto) == sorted(result.mapping)


def test_legs_hanging_from_the_root_are_reported_with_their_root_cause():
    result = bone_mapping.solve(_game_rig(legs_under_root=True))
    assert result.mapping["hips"] == "Hips" and result.mapping["spine"] == "Spine"
    assert "leftUpperLeg" not in result.mapping and "leftLowerLeg" not in result.mapping
    assert result.reasons == {
        "leftUpperLeg": "'UpperLeg.L' hangs from 'Root', not from the hips bone 'Hips'",
        "rightUpperLeg": "'UpperLeg.R' hangs from 'Root', not from the hips bone 'Hips'",
    }


def test_an_ik_foot_outside_the_leg_chain_is_named_as_such():
    table = _table(lambda n: {"Foot.L": "IK_Foot.L"}.get(n, n), reparent={"IK_Foot.L": "Hips"})
    result = bone_mapping.solve(table)
    assert result.reasons == {
        "leftFoot": "'IK_Foot.L' is an IK bone, outside the chain below leftLowerLeg 'LowerLeg.L'"
    }


def test_one_missing_hand_is_named_alone():
    table = _table(
        lambda n: (
            None if n.endswith(".L") and n[:-2] in ("Hand", *(f"{f}{i}" for f in _FINGERS for i in (1, 2, 3))) else n
        )
    )
    result = bone_mapping.solve(table)
    assert result.reasons == {"leftHand": "no bone found under 'LowerArm.L'"}


_SPOKEN = {
    "Hips": "Hips",
    "Spine": "Spine",
    "Chest": "Chest",
    "UpperChest": None,
    "Neck": "Neck",
    "Head": "Head",
    "Shoulder": "{s} shoulder",
    "UpperArm": "{s} arm",
    "LowerArm": "{s} elbow",
    "Hand": "{s} wrist",
    "UpperLeg": "{s} leg",
    "LowerLeg": "{s} knee",
    "Foot": "{s} ankle",
    "Toes": "{s} toe",
    "Eye": "Eye_{s}",
}


def _spoken(name):
    part, side = (name[:-2], name[-1]) if name[-2:] in (".L", ".R") else (name, "")
    if part[-1].isdigit():
        return None
    word = {"L": "Left", "R": "Right", "": ""}[side]
    pattern = _SPOKEN[part]
    return None if pattern is None else pattern.format(s=word)


def rigs_mixamo(name):
    part, side = (name[:-2], name[-1]) if name[-2:] in (".L", ".R") else (name, "")
    table = {
        "Hips": "Hips",
        "Spine": "Spine",
        "Chest": "Spine1",
        "UpperChest": "Spine2",
        "Neck": "Neck",
        "Head": "Head",
        "Shoulder": "Shoulder",
        "UpperArm": "Arm",
        "LowerArm": "ForeArm",
        "Hand": "Hand",
        "UpperLeg": "UpLeg",
        "LowerLeg": "Leg",
        "Foot": "Foot",
        "Toes": "ToeBase",
        "Eye": "Eye",
    }
    if part[-1].isdigit():
        return {"L": "Left", "R": "Right"}[side] + "Hand" + part[:-1].replace("Little", "Pinky") + part[-1]
    return {"L": "Left", "R": "Right", "": ""}[side] + table[part]


@pytest.mark.parametrize(
    ("label", "rename", "expected"),
    [
        (
            "spoken words (Left leg, Left knee, Left ankle, Left wrist)",
            _spoken,
            {
                "leftUpperLeg": "Left leg",
                "leftLowerLeg": "Left knee",
                "leftFoot": "Left ankle",
                "leftHand": "Left wrist",
                "leftUpperArm": "Left arm",
                "leftLowerArm": "Left elbow",
                "chest": "Chest",
                "spine": "Spine",
            },
        ),
        (
            "glued sides (UpperArmL)",
            lambda n: n.replace(".", "") if "." in n else n,
            {
                "leftUpperArm": "UpperArmL",
                "rightLowerLeg": "LowerLegR",
                "leftHand": "HandL",
                "leftIndexProximal": "Index1L",
            },
        ),
        (
            "Mixamo without its prefix",
            rigs_mixamo,
            {
                "hips": "Hips",
                "leftUpperLeg": "LeftUpLeg",
                "leftLowerLeg": "LeftLeg",
                "leftUpperArm": "LeftArm",
                "leftLowerArm": "LeftForeArm",
                "spine": "Spine",
                "chest": "Spine1",
                "upperChest": "Spine2",
            },
        ),
    ],
)
def test_conventions_found_in_real_files(label, rename, expected):
    result = bone_mapping.solve(_table(rename))
    assert result.reasons == {}, label
    assert {v: result.mapping.get(v) for v in expected} == expected, label


def test_abdomen_torso_chest_body_above_hips_and_palm_hands():
    def rename(name):
        return {
            "Spine": "Abdomen",
            "Chest": "Torso",
            "UpperChest": "Chest",
            "Hand.L": "Palm.L",
            "Hand.R": "Palm.R",
        }.get(name, name)

    extra = [("Body", None, (0, 0, 0.85), (0, 0, 0.9)), ("Fist.L", "Palm.L", (0.75, 0, 1.4), (0.8, 0, 1.4))]
    result = bone_mapping.solve(_table(rename, {"Hips": "Body"}, extra))
    assert result.reasons == {}
    assert result.mapping["hips"] == "Hips" and result.mapping["spine"] == "Abdomen"
    assert result.mapping["chest"] == "Torso" and result.mapping["upperChest"] == "Chest"
    assert result.mapping["leftHand"] == "Palm.L"
    assert "Body" not in result.mapping.values() and "Fist.L" not in result.mapping.values()


def _makehuman() -> BoneTable:
    """MakeHuman's default skeleton: `root` at the pelvis, `pelvis.L` the hip joint, spine05 (lowest) up to
    spine01, clavicle -> shoulder01 -> upperarm01 -> upperarm02 -> lowerarm01 -> lowerarm02 -> wrist."""
    rows: list[tuple[Any, ...]] = [("root", None, (0, 0, 0.95), (0, 0, 1.0))]
    z = 1.0
    parent = "root"
    for n in (5, 4, 3, 2, 1):
        rows.append((f"spine0{n}", parent, (0, 0, z), (0, 0, z + 0.08)))
        parent, z = f"spine0{n}", z + 0.08
    rows += [
        ("neck01", "spine01", (0, 0, 1.42), (0, 0, 1.46)),
        ("neck02", "neck01", (0, 0, 1.46), (0, 0, 1.5)),
        ("head", "neck02", (0, 0, 1.5), (0, 0, 1.7)),
    ]
    for s, x in (("L", 1), ("R", -1)):
        chain = [
            ("clavicle", 0.02, 0.12),
            ("shoulder01", 0.12, 0.17),
            ("upperarm01", 0.17, 0.3),
            ("upperarm02", 0.3, 0.44),
            ("lowerarm01", 0.44, 0.56),
            ("lowerarm02", 0.56, 0.69),
            ("wrist", 0.69, 0.75),
        ]
        parent = "spine01"
        for name, a, b in chain:
            rows.append((f"{name}.{s}", parent, (x * a, 0, 1.4), (x * b, 0, 1.4)))
            parent = f"{name}.{s}"
        for f in range(1, 6):
            parent = f"wrist.{s}"
            for seg in range(1, 4):
                px = 0.75 + 0.03 * seg
                rows.append((f"finger{f}-{seg}.{s}", parent, (x * px, 0.01 * f, 1.4), (x * (px + 0.03), 0.01 * f, 1.4)))
                parent = f"finger{f}-{seg}.{s}"
        legs = [
            ("pelvis", (0, 0, 0.95), (0.1, 0, 0.92)),
            ("upperleg01", (0.1, 0, 0.92), (0.1, 0, 0.7)),
            ("upperleg02", (0.1, 0, 0.7), (0.1, 0, 0.5)),
            ("lowerleg01", (0.1, 0, 0.5), (0.1, 0, 0.3)),
            ("lowerleg02", (0.1, 0, 0.3), (0.1, 0, 0.09)),
            ("foot", (0.1, 0, 0.09), (0.1, -0.1, 0.03)),
            ("toe1-1", (0.1, -0.1, 0.03), (0.1, -0.15, 0.02)),
        ]
        parent = "root"
        for name, h, t in legs:
            rows.append((f"{name}.{s}", parent, (x * h[0], h[1], h[2]), (x * t[0], t[1], t[2])))
            parent = f"{name}.{s}"
    index = {r[0]: i for i, r in enumerate(rows)}
    return BoneTable(
        [r[0] for r in rows],
        [index[r[1]] if r[1] else -1 for r in rows],
        np.array([r[2] for r in rows], float),
        np.array([r[3] for r in rows], float),
        np.ones(len(rows), bool),
    )


def test_makehuman_default_skeleton():
    result = bone_mapping.solve(_makehuman())
    assert result.reasons == {}
    expected = {
        "hips": "root",
        "spine": "spine05",
        "neck": "neck01",
        "head": "head",
        "leftShoulder": "clavicle.L",
        "leftUpperArm": "upperarm01.L",
        "leftLowerArm": "lowerarm01.L",
        "leftHand": "wrist.L",
        "leftUpperLeg": "upperleg01.L",
        "leftLowerLeg": "lowerleg01.L",
        "leftFoot": "foot.L",
        "leftThumbMetacarpal": "finger1-1.L",
        "leftLittleDistal": "finger5-3.L",
    }
    assert {v: result.mapping.get(v) for v in expected} == expected
    assert "pelvis.L" not in result.mapping.values()


def test_rigify_deform_bones_only_with_its_pelvis_and_control_twins():
    def rename(name):
        return rigs_rigify(name)

    table = _table(
        rename,
        extra=[
            ("DEF-pelvis.L", "DEF-spine", (0, 0, 0.95), (0.1, -0.1, 0.9)),
            ("hips", None, (0, 0, 0.92), (0, 0.1, 0.92)),
            ("chest", "hips", (0, 0, 1.2), (0, 0, 1.3)),
            ("MCH-thigh_ik.L", "hips", (0.1, 0, 0.92), (0.1, 0, 0.5)),
        ],
        deform=lambda n: n.startswith("DEF-"),
    )
    result = bone_mapping.solve(table)
    assert result.reasons == {}
    assert all(name.startswith("DEF-") for name in result.mapping.values()), result.mapping
    assert result.mapping["hips"] == "DEF-spine" and result.mapping["spine"] == "DEF-spine.001"


def rigs_rigify(name):
    part, side = (name[:-2], name[-1]) if name[-2:] in (".L", ".R") else (name, "")
    center = {
        "Hips": "spine",
        "Spine": "spine.001",
        "Chest": "spine.002",
        "UpperChest": "spine.003",
        "Neck": "spine.004",
        "Head": "spine.006",
    }
    if not side:
        return "DEF-" + center[part]
    sided = {
        "Shoulder": "shoulder",
        "UpperArm": "upper_arm",
        "LowerArm": "forearm",
        "Hand": "hand",
        "UpperLeg": "thigh",
        "LowerLeg": "shin",
        "Foot": "foot",
        "Toes": "toe",
        "Eye": "eye",
    }
    if part[-1].isdigit():
        finger = {"Thumb": "thumb", "Index": "f_index", "Middle": "f_middle", "Ring": "f_ring", "Little": "f_pinky"}
        return f"DEF-{finger[part[:-1]]}.0{part[-1]}.{side}"
    return f"DEF-{sided[part]}.{side}"


def _mappings_of_rigs_with_ties() -> dict[str, dict[str, str]]:
    """What `solve` maps on rigs where names tie or say nothing (the hierarchy decides)."""
    game = _game_rig(legs_under_root=False)
    rigs = {
        "game": game,
        "unnamed game": _unnamed(game, keep=_GAME_RIG_HELPERS.__contains__),
        "two hips": _two_hips(),
        "rigify round trip": _rigify_round_trip(),
    }
    return {label: bone_mapping.solve(table).mapping for label, table in rigs.items()}


def test_the_same_rig_maps_the_same_at_any_scale_and_every_run():
    table = _game_rig(legs_under_root=False)
    first = bone_mapping.solve(table)
    scaled = BoneTable(table.names, table.parents, table.heads * 100, table.tails * 100, table.deform)
    assert bone_mapping.solve(scaled).mapping == first.mapping
    # Each process orders sets of names by its own hash seed: a mapping that leaned on that order would
    # change from one run of Blender to the next, which one process cannot see. Seeds 0 and 2 hash the
    # tied "Hips" and "Pelvis" in opposite orders.
    code = (
        "import json\n"
        "from tests.core.test_bone_mapping import _mappings_of_rigs_with_ties\n"
        "print(json.dumps(_mappings_of_rigs_with_ties()))\n"
    )
    here = _mappings_of_rigs_with_ties()
    for seed in ("0", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=_ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == here, f"PYTHONHASHSEED={seed}"


# --- guards a rig can reach: each test below fails when its guard is removed -------------------------------


def test_a_thigh_hanging_below_its_shin_is_reported_not_reparented_into_a_loop():
    # Hips -> shin -> thigh -> foot: mending it by hanging the shin under the thigh would hang the shin
    # under its own descendant, and every later look at the rig would recurse for ever.
    table = _table(lambda n: n, reparent={"LowerLeg.L": "Hips", "UpperLeg.L": "LowerLeg.L", "Foot.L": "UpperLeg.L"})
    result = bone_mapping.solve(table)
    assert result.reasons == {"leftLowerLeg": "'LowerLeg.L' hangs from 'Hips', not from leftUpperLeg 'UpperLeg.L'"}
    assert result.misplaced == {}
    assert bone_mapping.restructure(table) is None


def test_a_def_bone_above_its_own_org_twins_def_is_not_reparented_into_a_loop():
    # DEF-spine.001 hangs from ORG-spine, whose DEF- twin hangs below DEF-spine.001.
    table = BoneTable(
        ["ORG-spine", "DEF-spine.001", "DEF-spine"],
        [-1, 0, 1],
        np.array([(0, 0, 1.0), (0, 0, 1.1), (0, 0, 1.2)]),
        np.array([(0, 0, 1.1), (0, 0, 1.2), (0, 0, 1.3)]),
        np.array([False, True, True]),
    )
    assert bone_mapping.restructure(table) is None


def test_fbx_end_leaves_of_an_unnamed_rig_without_shoulders_are_not_mapped():
    def rename(name):
        return None if name.startswith(("Shoulder", "Eye", *_FINGERS)) else name

    named = _table(rename)
    leaves = [n for i, n in enumerate(named.names) if i not in named.parents]
    extra = [(f"{n}_end", n, named.tails[named.index[n]], named.tails[named.index[n]] + (0, 0, 0.02)) for n in leaves]
    table = _table(rename, extra=extra)
    # Bone.007 and its tip Bone.007_end, as an FBX exporter writes them.
    anonymous = {
        n: f"Bone.{table.index[n.removesuffix('_end')]:03d}" + n[len(n.removesuffix("_end")) :] for n in table.names
    }
    unnamed = BoneTable([anonymous[n] for n in table.names], table.parents, table.heads, table.tails, table.deform)
    result = bone_mapping.solve(unnamed)
    assert result.reasons == {}
    for side in ("L", "R"):
        vrm = {"L": "left", "R": "right"}[side]
        got = {part: result.mapping[vrm + part] for part in ("UpperArm", "LowerArm", "Hand")}
        assert got == {part: anonymous[f"{part}.{side}"] for part in got}
    assert not [n for n in result.mapping.values() if n.endswith("_end")]


def test_an_upper_chest_set_by_hand_is_kept_when_the_arms_branch_from_the_chest():
    table = _table(lambda n: n, reparent={"Shoulder.L": "Chest", "Shoulder.R": "Chest"})
    result = bone_mapping.solve(table, {"upperChest": "UpperChest"})
    assert result.mapping["upperChest"] == "UpperChest"


def test_elbow_pole_targets_beside_the_shoulders_of_an_unnamed_rig_are_not_its_arms():
    extra = [
        (f"ElbowPole.{s}", "UpperChest", (x * 0.45, 0.4, 1.35), (x * 0.45, 0.5, 1.35)) for s, x in (("L", 1), ("R", -1))
    ]
    table = _table(lambda n: None if n.startswith(("Eye", *_FINGERS)) else n, extra=extra)
    unnamed = _unnamed(table, keep=lambda n: "Pole" in n)
    result = bone_mapping.solve(unnamed)
    assert result.reasons == {}
    for side, vrm in (("L", "left"), ("R", "right")):
        got = {part: result.mapping[vrm + part] for part in ("Shoulder", "UpperArm", "LowerArm", "Hand")}
        assert got == {part: unnamed.names[table.index[f"{part}.{side}"]] for part in got}


def _rigify_round_trip() -> BoneTable:
    """A Rigify rig after an FBX round trip: every bone deforms, ORG- twins beside the DEF- bones, and the
    upper arms' DEF- bones hang from the ORG- shoulders as Rigify builds them."""
    demo = _table(rigs_rigify)
    org = [("ORG-" + n.removeprefix("DEF-"), p and "ORG-" + p.removeprefix("DEF-"), demo.heads[i], demo.tails[i])
           for i, n in enumerate(demo.names) for p in [demo.parent_of(n)]]  # fmt: skip
    return _table(rigs_rigify, {"DEF-upper_arm.L": "ORG-shoulder.L", "DEF-upper_arm.R": "ORG-shoulder.R"}, org)


def test_rigify_org_bones_that_deform_are_not_mapped_beside_their_def_twins():
    table = _rigify_round_trip()
    result = bone_mapping.solve(table)
    assert not [n for n in result.mapping.values() if n.startswith("ORG-")], result.mapping
    assert set(result.reasons) == {"leftUpperArm", "rightUpperArm"}
    plan = bone_mapping.restructure(table)
    assert plan is not None and plan.added == []
    assert plan.reparent == {"DEF-upper_arm.L": "DEF-shoulder.L", "DEF-upper_arm.R": "DEF-shoulder.R"}


def _two_hips() -> BoneTable:
    """The demo rig with a `Pelvis` below `Hips` from which the spine and the legs hang."""
    pelvis = ("Pelvis", "Hips", (0, 0, 0.95), (0, 0, 1.0))
    return _table(lambda n: n, dict.fromkeys(("Spine", "UpperLeg.L", "UpperLeg.R"), "Pelvis"), [pelvis])


def test_of_two_bones_named_hips_the_one_listed_first_is_the_hips():
    # Both give the same mapping but for the hips; ties go to the bone Blender lists first, so the same rig
    # maps the same however its candidates are gathered.
    table = _two_hips()
    assert table.names.index("Hips") < table.names.index("Pelvis")
    result = bone_mapping.solve(table)
    assert result.reasons == {} and result.mapping["hips"] == "Hips"
    assert "Pelvis" not in result.mapping.values()


# --- game rigs: limbs off the root, hands without a hand bone -----------------------------------------------


def _feet_off_the_root() -> BoneTable:
    """A game rig's feet: hanging from `Root` beside the IK pole targets, instead of from the shins."""
    return _table(lambda n: n, reparent={"Hips": "Root", "Foot.L": "Root", "Foot.R": "Root"},
                  extra=[("Root", None, (0, 0, 0), (0, 0.1, 0)),
                         ("PoleTargetL", "Root", (0.1, -0.5, 0.5), (0.1, -0.6, 0.5)),
                         ("PoleTargetR", "Root", (-0.1, -0.5, 0.5), (-0.1, -0.6, 0.5))])  # fmt: skip


def test_a_foot_off_the_root_that_carries_geometry_is_reparented_under_the_shin():
    table = _feet_off_the_root()
    carrying = frozenset(n for n in table.names if not n.startswith(("Root", "PoleTarget")))
    assert bone_mapping.solve(table, carrying=carrying).reasons == {
        "leftFoot": "'Foot.L' hangs from 'Root', not from leftLowerLeg 'LowerLeg.L'",
        "rightFoot": "'Foot.R' hangs from 'Root', not from rightLowerLeg 'LowerLeg.R'",
    }
    plan = bone_mapping.restructure(table, carrying=carrying)
    assert plan is not None and plan.added == []
    assert plan.reparent == {"Foot.L": "LowerLeg.L", "Foot.R": "LowerLeg.R"}


def test_a_foot_off_the_root_that_carries_nothing_is_a_control_and_stays():
    table = _feet_off_the_root()
    # Known to carry geometry: everything but the feet (and their toes), the root and the pole targets.
    carrying = frozenset(n for n in table.names if not n.startswith(("Root", "PoleTarget", "Foot", "Toes")))
    assert bone_mapping.restructure(table, carrying=carrying) is None


def test_a_non_deforming_bone_that_carries_a_part_is_a_body_part():
    table = _feet_off_the_root()
    table.deform[table.index["Foot.L"]] = False
    table.deform[table.index["Foot.R"]] = False
    carrying = frozenset(n for n in table.names if not n.startswith(("Root", "PoleTarget")))
    plan = bone_mapping.restructure(table, carrying=carrying)
    assert plan is not None and plan.reparent == {"Foot.L": "LowerLeg.L", "Foot.R": "LowerLeg.R"}
    assert bone_mapping.restructure(table) is None  # not known to carry anything: a control, left alone


def _handless(side: str = "L") -> BoneTable:
    """No hand bone: the fingers (thumb included) branch straight off the forearm."""
    return _table(lambda n: None if n == f"Hand.{side}" else n)


def test_a_forearm_whose_fingers_branch_off_it_gets_a_hand_bone_at_its_end():
    table = _handless()
    result = bone_mapping.solve(table)
    assert result.reasons["leftHand"].startswith("no hand bone: 'Thumb1.L', 'Index1.L'")
    assert result.reasons["leftHand"].endswith("branch straight off the forearm 'LowerArm.L'")
    plan = bone_mapping.restructure(table)
    assert plan is not None and [b.name for b in plan.added] == ["Hand.L"]
    hand = plan.added[0]
    forearm = table.index["LowerArm.L"]
    assert hand.parent == "LowerArm.L" and np.allclose(hand.head, table.tails[forearm])  # at the wrist
    assert set(plan.reparent) == {f"{f}1.L" for f in _FINGERS} and set(plan.reparent.values()) == {"Hand.L"}
    solved = bone_mapping.solve(plan.applied(table))
    assert solved.reasons == {} and solved.mapping["leftHand"] == "Hand.L"
    assert solved.mapping["leftIndexProximal"] == "Index1.L" and solved.mapping["leftThumbMetacarpal"] == "Thumb1.L"


def test_twist_bones_halfway_down_a_forearm_are_not_a_hand():
    table = _table(lambda n: n, extra=[("ForeArmTwist.L", "LowerArm.L", (0.45, 0, 1.4), (0.5, 0, 1.4))])
    twist = table.index["ForeArmTwist.L"]
    forearm = table.index["LowerArm.L"]
    table.heads[twist] = (table.heads[forearm] + table.tails[forearm]) / 2  # starts half-way along
    assert bone_mapping.hand_parts(table, forearm) == []  # the hand bone and a twist bone: nothing to insert


def test_unnumbered_finger_names_are_the_first_segment():
    table = _table(lambda n: {"Index1.L": "IndexL", "Index2.L": "Index2L", "Index3.L": "Index3L"}.get(n, n))
    mapping = bone_mapping.solve(table).mapping
    segments = [mapping[f"leftIndex{s}"] for s in ("Proximal", "Intermediate", "Distal")]
    assert segments == ["IndexL", "Index2L", "Index3L"]
