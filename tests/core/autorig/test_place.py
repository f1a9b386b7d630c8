"""plan_rig on synthetic figures whose joints are known by construction, and on things that are no humanoid."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from addon.core.autorig import MeshPart, NotHumanoidError, RigPlan, plan_rig, rigid
from addon.core.rig import humanoid

from .figures import KNEECAP, Figure, block, blocks, capsule, lying_down, merged, squashed, table_on_legs, tube, turn_z
from .figures import humanoid as figure


def errors(fig: Figure, plan: RigPlan) -> dict[str, float]:
    """Each constructed joint's distance from the planned bone head, as a share of the height."""
    m = np.array(plan.to_rig_frame)
    heads = {b.name: np.array(b.head) for b in plan.bones}
    return {
        name: float(np.linalg.norm(heads[name] - (m[:3, :3] @ at + m[:3, 3]))) / plan.height
        for name, at in fig.joints.items()
    }


def assert_joints_close(fig: Figure, plan: RigPlan, worst: float = 0.05) -> None:
    err = errors(fig, plan)
    far = {k: f"{v:.1%}" for k, v in err.items() if v > worst}
    assert not far, far
    assert np.median(list(err.values())) <= 0.03


@pytest.mark.parametrize(
    ("fig", "pose"),
    [
        (figure(), "T-pose"),
        (figure(arm_drop=45), "A-pose: arms 45°"),
        (figure(arm_drop=50), "A-pose: arms 50°"),
        (figure(chibi=True), "T-pose"),
    ],
    ids=["T-pose", "A-pose 45", "A-pose 50", "chibi"],
)
def test_joints_follow_the_geometry(fig: Figure, pose: str) -> None:
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)
    assert any(n.startswith(pose) for n in plan.notes), plan.notes
    assert {b.name for b in plan.bones} >= humanoid.REQUIRED_VRM0 | {"leftShoulder", "leftToes", "upperChest"}


def test_a_shaped_shins_ankle_is_at_the_ankle_bones_below_its_narrowest_cut() -> None:
    """A modelled or scanned shin is narrowest above the ankle bones (4 cm here, 2.4% of the height): the
    foot's joint is lower, where the instep and heel begin to spread the leg, not at the narrowest cut."""
    fig = figure(shaped_shins=True)
    plan = plan_rig(fig.parts)
    err = errors(fig, plan)
    assert err["leftFoot"] < 0.012 and err["rightFoot"] < 0.012, err
    assert_joints_close(fig, plan)


def _knee(fig: Figure) -> tuple[Any, Any, Any, float]:
    """The planned left knee, the left thigh's joint (on the leg's line) and the ball of the figure's left
    kneecap (KNEECAP) in the rig frame, and the height; after checking every joint lies near the figure's."""
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)
    m = np.array(plan.to_rig_frame)
    heads = {b.name: np.array(b.head) for b in plan.bones}
    cap = m[:3, :3] @ np.array([fig.joints["leftLowerLeg"][0], *KNEECAP]) + m[:3, 3]
    return heads["leftLowerLeg"], heads["leftUpperLeg"], cap, plan.height


def test_a_modelled_kneecap_puts_the_knee_at_its_height_toward_the_front() -> None:
    """Artists whose legs model the kneecap (the leg deepens there and thins again over the knee) bend the
    knee near it: the joint goes to the kneecap's height, ahead of the leg's middle and behind the kneecap's
    front. A leg without one keeps its knee on the leg's line."""
    plain, line, _, height = _knee(figure())
    assert abs(plain[1] - line[1]) < 0.003 * height, (plain, line)
    knee, line, cap, height = _knee(figure(kneecaps=True))
    assert abs(knee[2] - cap[2]) < 0.01 * height, (knee, cap)
    assert cap[1] - 0.04 < knee[1] < line[1] - 0.01 * height, (cap, knee, line)  # the ball's radius: 4 cm
    # A pad worn a gap in front of the shin, just below the knee, is no kneecap: the knee stays where it was.
    fig = figure()
    x, y, z = fig.joints["leftLowerLeg"]
    pad = block((x - 0.04, y - 0.085, z - 0.09), (x + 0.04, y - 0.065, z - 0.03))
    body = fig.parts[0]  # the pad a shell of the body's mesh, as a generator or a joined export has it
    padded = Figure([MeshPart(body.name, *merged([(body.vertices, body.triangles), pad])), *fig.parts[1:]], fig.joints)
    knee, _, _, _ = _knee(padded)
    assert np.linalg.norm(knee - plain) < 0.003 * height, (knee, plain)


def test_the_skeleton_is_a_vrm_hierarchy_mirrored_about_x0() -> None:
    plan = plan_rig(figure(arm_drop=30).parts)
    placed = {b.name for b in plan.bones}
    seen: set[str] = set()
    for bone in plan.bones:
        assert bone.parent == humanoid.mapped_parent(bone.name, placed)
        assert bone.parent is None or bone.parent in seen  # parents first
        assert np.linalg.norm(np.subtract(bone.tail, bone.head)) > 0.005 * plan.height
        seen.add(bone.name)
        if bone.name.startswith("left"):
            right = next(b for b in plan.bones if b.name == "right" + bone.name[4:])
            assert right.head == pytest.approx((-bone.head[0], *bone.head[1:]))
        elif not bone.name.startswith("right"):
            assert bone.head[0] == 0.0
    feet = [b.head for b in plan.bones if b.name.endswith("Foot")]
    assert min(f[2] for f in feet) > 0 and plan.height == pytest.approx(1.7, abs=0.02)


def test_the_rig_frame_stands_the_meshes_on_the_floor_facing_minus_y() -> None:
    fig = figure().transformed(turn_z(120, 100.0))
    plan = plan_rig(fig.parts)
    m = np.array(plan.to_rig_frame)
    rig = fig.parts[0].vertices @ m[:3, :3].T + m[:3, 3]
    assert rig[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert np.ptp(rig[:, 2]) == pytest.approx(plan.height)
    assert abs(rig[:, 0].max() + rig[:, 0].min()) < 0.01  # the mid-plane at x = 0
    heads = {b.name: b.head for b in plan.bones}
    assert heads["leftToes"][1] < heads["leftFoot"][1]  # toes ahead, toward −Y
    assert heads["leftHand"][0] > 0.5 > -0.5 > heads["rightHand"][0]  # the avatar's left at +X


def test_any_facing_and_unit_gives_the_same_rig() -> None:
    reference = plan_rig(figure().parts)
    for turn, scale, note in ((90, 1.0, None), (-150, 100.0, "scaled ×0.01"), (35, 1000.0, "scaled ×0.001")):
        fig = figure().transformed(turn_z(turn, scale))
        plan = plan_rig(fig.parts)
        assert_joints_close(fig, plan)
        for a, b in zip(reference.bones, plan.bones, strict=True):
            assert a.name == b.name
            assert np.linalg.norm(np.subtract(a.head, b.head)) < 0.01 * reference.height, (turn, a.name)
        assert note is None or note in " ".join(plan.notes)
        assert any(n.startswith("front: −Y found from the feet") for n in plan.notes)


def test_a_body_with_no_feet_nor_face_faces_the_files_front_and_says_so() -> None:
    """A robot of boxes whose feet reach as far back as forward and whose head is centred on its neck: nothing
    in the geometry shows the front. It faces −Y as glTF, VRM and FBX files put it once imported (turned a
    little, still), its left at +X, and the notes say the front came from the file, not from the body. Stood
    sideways in its file, not even that tells: refused with the reason, never rigged with left and right
    guessed."""
    for turn in (0, 20, -25):
        fig = blocks(0.8, toes=False).transformed(turn_z(turn))
        plan = plan_rig(fig.parts)
        assert max(errors(fig, plan).values()) <= 0.03, (turn, errors(fig, plan))
        assert any(n.startswith("front: −Y as the file has it") and "no feet nor face" in n for n in plan.notes)
    with pytest.raises(NotHumanoidError, match="cannot tell the front: no feet nor face shows it"):
        plan_rig(blocks(0.8, toes=False).transformed(turn_z(90)).parts)
    # Feet that show the front outweigh the file's axes: turned round in its file, the figure is turned back.
    fig = blocks(0.8).transformed(turn_z(180))
    plan = plan_rig(fig.parts)
    assert max(errors(fig, plan).values()) <= 0.03 and "front: −Y found from the feet" in plan.notes


def test_a_robots_arms_apart_from_its_torso_begin_at_the_shoulders_under_a_head_wider_than_them() -> None:
    """Arms of their own parts, a gap from the torso's, never join its cross-section; the step where the cut
    widens is the head's (wider than the shoulders, as RobotExpressive's), above its neck. The armpits are
    where the arms' parts begin beside the torso, and the upper arms' joints at the torso's side."""
    fig = blocks(0.92, robot=True)
    plan = plan_rig(fig.parts)
    assert "armpits where the arms' parts begin beside the torso: they never join its cross-section" in plan.notes
    err = {k: v for k, v in errors(fig, plan).items() if "Arm" not in k and "Hand" not in k}
    assert max(err.values()) <= 0.02, err
    assert max(errors(fig, plan)[f"{side}UpperArm"] for side in ("left", "right")) <= 0.01


def test_a_robots_elbows_and_wrists_are_where_its_arms_parts_meet() -> None:
    """Along an arm of separate rounded parts (a long upper arm, a ball at the elbow, a short forearm, a hand),
    every part's rounded end narrows the cuts like a wrist: the joints are where the parts meet instead (the
    middle of the gap, the ball's centre), the forearm and the hand told apart by their order from the
    shoulder."""
    fig = blocks(0.92, robot=True)
    err = errors(fig, plan_rig(fig.parts))
    arms = {k: f"{v:.1%}" for k, v in err.items() if k.endswith(("LowerArm", "Hand"))}
    assert max(err[k] for k in arms) <= 0.01, arms


def test_a_robots_wrist_inside_one_part_of_forearm_and_fist_is_level_with_the_thumbs_part() -> None:
    """The forearm and a fist as wide moulded in one part show no meeting and no narrowing at the wrist (the
    cuts narrow at the part's rounded end instead); the thumb's part on it, its root on the wrist's bones,
    marks it."""
    fig = blocks(0.92, robot=True, fist=True)
    err = errors(fig, plan_rig(fig.parts))
    arms = {k: f"{v:.1%}" for k, v in err.items() if k.endswith(("LowerArm", "Hand"))}
    assert max(err[k] for k in arms) <= 0.01, arms


def test_a_robots_thighs_swivel_on_the_balls_at_its_hips() -> None:
    """A ball on top of each thigh's part is the joint's (the cuts and the parts' ends only bracket it): the
    thighs' joints are the balls' centres, the hips' joint still above them."""
    fig = blocks(0.92, robot=True, hip_balls=True)
    plan = plan_rig(fig.parts)
    err = errors(fig, plan)
    assert max(err[f"{side}UpperLeg"] for side in ("left", "right")) <= 0.005, err
    assert max(err.values()) <= 0.02, err
    heads = {b.name: b.head for b in plan.bones}
    assert heads["hips"][2] > max(heads[f"{side}UpperLeg"][2] for side in ("left", "right"))


def test_a_skirt_and_long_hair_hide_nothing() -> None:
    fig = figure(skirt=True, hair=True, arm_drop=40)
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)


def test_a_hood_in_the_body_mesh_leaves_the_neck_midway_through_the_neck() -> None:
    """The neck sits midway between the body's own front and back, not the hood's around it (the hood does
    hide the neck's narrowing, so its height is not asserted here)."""
    fig = figure(hood=True)
    plan = plan_rig(fig.parts)
    m = np.array(plan.to_rig_frame)
    heads = {b.name: b.head for b in plan.bones}
    assert abs(heads["neck"][1] - (m[1, :3] @ fig.joints["neck"] + m[1, 3])) < 0.01 * plan.height


@pytest.mark.parametrize("pose", [{}, {"arm_drop": 45}, {"chibi": True}], ids=["T-pose", "A-pose", "chibi"])
def test_separate_fingers_get_three_joints_each_and_mittens_none(pose: dict[str, Any]) -> None:
    fig = figure(fingers=True, **pose)
    plan = plan_rig(fig.parts)
    names = {b.name for b in plan.bones}
    fingers = {n for n in humanoid.HUMAN_BONES if any(f in n for f in ("Thumb", "Index", "Middle", "Ring", "Little"))}
    assert fingers <= names
    err = errors(fig, plan)
    assert err["leftMiddleProximal"] < 0.02 and err["rightMiddleProximal"] < 0.02, err
    mitten = plan_rig(figure(**pose).parts)
    assert not fingers & {b.name for b in mitten.bones}
    assert "fingers fused: no finger bones" in mitten.notes


def test_hands_hanging_below_the_crotch_get_no_finger_bones() -> None:
    plan = plan_rig(figure(arm_drop=70).parts)  # mittens: any finger bones would be made up
    assert not [b.name for b in plan.bones if "Proximal" in b.name]
    assert "the hands hang below the crotch: no finger bones, the hands' ends uncertain" in plan.notes


def test_eye_spheres_get_eye_bones_and_ride_on_them() -> None:
    fig = figure(eyes=True)
    plan = plan_rig(fig.parts)
    err = errors(fig, plan)
    assert err["leftEye"] < 0.01 and err["rightEye"] < 0.01, err
    assert plan.rigid == {"EyeL": "leftEye", "EyeR": "rightEye"}
    assert not {"leftEye", "rightEye"} & {b.name for b in plan_rig(figure().parts).bones}


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([table_on_legs(0.5, 0.5, 0.45, back=True)], "4 separate supports reach the floor"),
        ([table_on_legs(0.5, 0.3, 0.8)], "4 separate supports reach the floor"),
        ([table_on_legs(1.2, 0.4, 0.5)], "not standing"),
        (figure(x=-0.45).parts + figure(x=0.45).parts, "two characters"),
        (figure().transformed(lying_down()).parts, "not standing"),
        ([], "nothing to rig"),
        ([MeshPart("Dot", np.zeros((3, 3)), np.array([[0, 1, 2]]))], "nothing to rig"),
    ],
    ids=["chair", "quadruped", "long quadruped", "two side by side", "lying down", "empty", "tiny"],
)
def test_what_is_no_standing_humanoid_is_refused_with_the_reason(parts: list[MeshPart], reason: str) -> None:
    with pytest.raises(NotHumanoidError, match=reason) as refused:
        plan_rig(parts)
    assert "\n" not in str(refused.value)


def test_a_signpost_on_one_column_has_no_legs() -> None:
    post = merged([capsule((0, 0, 0.1), (0, 0, 1.6), 0.1), capsule((-0.6, 0, 1.4), (0.6, 0, 1.4), 0.05)])
    with pytest.raises(NotHumanoidError, match="no two legs"):
        plan_rig([MeshPart("Signpost", *post)])


def test_a_strap_hanging_behind_a_leg_inside_a_skirt_does_not_lower_the_hips() -> None:
    """Something hanging in line with one leg (a strap, a tail behind it) is no part of the leg: the legs are
    still followed up inside the skirt, and the thighs' joints stay at the thighs."""
    fig = figure(skirt=True)
    skirt = fig.parts[1]
    strap = capsule((-0.09, 0.32, 0.25), (-0.09, 0.32, 0.85), 0.012)
    fig.parts[1] = MeshPart(skirt.name, *merged([(skirt.vertices, skirt.triangles), strap]))
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)
    assert "a skirt hides the crotch: the legs followed up inside it" in plan.notes


def test_panels_hanging_before_and_behind_the_thighs_do_not_lower_the_crotch() -> None:
    """Panels hanging in front of and behind both thighs in the body's own mesh (a tabard, a coat's flaps and
    tail, a skirt open at the sides) join the legs along X and make the mid-line as deep as the legs below the
    crotch; each leg is still its own loop there, so the crotch and the thighs' joints stay where the legs
    meet."""
    fig = figure()
    body = fig.parts[0]
    panels = [block((-0.13, y, 0.6), (0.13, y + 0.02, 0.95)) for y in (-0.11, 0.09)]
    fig.parts[0] = MeshPart(body.name, *merged([(body.vertices, body.triangles), *panels]))
    plan = plan_rig(fig.parts)
    err = errors(fig, plan)
    assert max(err["leftUpperLeg"], err["rightUpperLeg"], err["hips"]) < 0.02, err
    assert_joints_close(fig, plan)


@pytest.mark.parametrize("half", [0.2, 0.3])
def test_a_sheet_wider_than_the_body_behind_the_hips_is_no_arm(half: float) -> None:
    """A panel behind the hips reaching out beside the torso crosses the mid-line behind the body: no arm's
    loop does. Its sides are not read as the arms (they were: a refusal with numpy's "All-NaN slice
    encountered", then "no upper arm"; at 0.25 m and wider, arms 77° down the panel's sides). Capes, coat tails and
    more: test_hostile_meshes.py."""
    fig = figure()
    body = fig.parts[0]
    sheet = block((-half, 0.09, 0.6), (half, 0.11, 0.95))
    fig.parts[0] = MeshPart(body.name, *merged([(body.vertices, body.triangles), sheet]))
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)
    assert any(n.startswith("T-pose: arms 2°") for n in plan.notes), plan.notes


def _depth_error(fig: Figure, plan: RigPlan, bone: str, at: Any) -> float:
    """How far the bone's head lies in front of (-) or behind (+) the constructed point `at`, along Y in the rig
    frame, as a share of the height."""
    m = np.array(plan.to_rig_frame)
    head = next(b.head for b in plan.bones if b.name == bone)
    return float(head[1] - (m[1, :3] @ np.asarray(at, float) + m[1, 3])) / plan.height


def test_what_hangs_off_the_back_does_not_pull_the_spine_backwards() -> None:
    """A backpack modelled in the body's own mesh, a shell of its own lying against the back: the spine and
    chest stay midway through the torso (its cuts are one loop with the torso's, reaching behind it)."""
    fig = figure()
    body = fig.parts[0]
    backpack = squashed(capsule((0, 0.17, 1.0), (0, 0.17, 1.3), 0.09), (0, 0.17, 0), (1.2, 1, 1))
    fig.parts[0] = MeshPart(body.name, *merged([(body.vertices, body.triangles), backpack]))
    plan = plan_rig(fig.parts)
    heads = {b.name: b.head for b in plan.bones}
    for bone in ("spine", "chest", "upperChest"):
        assert abs(_depth_error(fig, plan, bone, (0, 0, 0))) < 0.01, (bone, heads[bone])
    assert_joints_close(fig, plan)


def test_a_pouch_touching_the_back_of_a_thigh_leaves_the_thighs_joint_in_the_thigh() -> None:
    """A strap with a pouch hanging down the back of the right thigh, touching it: the thighs' joints and knees
    stay on the legs' own line, not pulled toward the strap."""
    fig = figure()
    body = fig.parts[0]
    strap = capsule((-0.09, 0.095, 0.45), (-0.09, 0.095, 0.95), 0.03)
    fig.parts[0] = MeshPart(body.name, *merged([(body.vertices, body.triangles), strap]))
    plan = plan_rig(fig.parts)
    for side in ("left", "right"):
        for bone in ("UpperLeg", "LowerLeg"):
            at = fig.joints[f"{side}{bone}"]
            assert abs(_depth_error(fig, plan, side + bone, at)) < 0.005, side + bone
    assert_joints_close(fig, plan)


def test_loose_shorts_over_the_thighs_leave_the_thighs_joints_and_knees_where_they_were() -> None:
    """Loose shorts in the body's own mesh, each leg's tube nearly twice as wide as the thigh from halfway down
    it to the crotch, widen the thigh's cut: the thighs' joints (a third of the thigh's width above the crotch)
    and the knees (midway below them) stay where the bare figure's are, from the leg's own cut below the hem.
    They went 1.4% of the height up, the knees 0.7%."""
    bare = figure(thigh=0.045)
    body = bare.parts[0]
    shorts = [tube((s * 0.09, 0, 0.66), (s * 0.09, 0, 0.8), 0.085, 0.085) for s in (1, -1)]
    dressed = [MeshPart(body.name, *merged([(body.vertices, body.triangles), *shorts])), *bare.parts[1:]]
    before, after = plan_rig(bare.parts), plan_rig(dressed)
    heads = {b.name: np.array(b.head) for b in before.bones}
    for bone in ("leftUpperLeg", "rightUpperLeg", "leftLowerLeg", "rightLowerLeg"):
        moved = next(np.array(b.head) for b in after.bones if b.name == bone) - heads[bone]
        assert np.linalg.norm(moved) < 0.002 * before.height, (bone, moved)


@pytest.mark.parametrize("pose", [{}, {"arm_drop": 40}, {"chibi": True}], ids=["T-pose", "A-pose", "chibi"])
def test_thighs_pressed_together_from_the_knees_up_are_still_two_legs(pose: dict[str, Any]) -> None:
    """The thighs touch from the knees to the crotch (one region across): the legs are followed up to the
    torso, not joined at the knees (which would refuse the figure: a crotch too low)."""
    fig = figure(touching=True, **pose)
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)


@pytest.mark.parametrize("pose", [{}, {"arm_drop": 45, "skirt": True}, {"arm_drop": 60}], ids=["T", "A skirt", "A 60"])
def test_long_hair_down_the_back_hides_neither_armpits_nor_neck(pose: dict[str, Any]) -> None:
    """A sheet of hair behind the back to the waist, wider than the shoulders: the torso's width (armpits,
    chest, neck) is the body's, not the hair's."""
    fig = figure(long_hair=True, **pose)
    plan = plan_rig(fig.parts)
    assert_joints_close(fig, plan)


@pytest.mark.parametrize(
    ("torso_from", "legs_x"),
    [(0.8, 0.09), (0.92, 0.09), (0.8, 0.05), (0.8, 0.12)],
    ids=["legs into the torso", "a gap below the torso", "legs overlapping, into the torso", "legs apart, into it"],
)
def test_a_body_of_one_box_per_bone_has_its_thighs_joints_at_the_legs_tops(torso_from: float, legs_x: float) -> None:
    """Each leg's boxes end at its thigh's joint, inside the torso's box or below it: the joint goes there,
    not a third of a thigh above where the torso begins (as a body of one skin has it)."""
    fig = blocks(torso_from, legs_x)
    plan = plan_rig(fig.parts)
    err = errors(fig, plan)
    assert max(err.values()) <= 0.02, {k: f"{v:.1%}" for k, v in err.items()}
    thighs = [b.head[2] for b in plan.bones if b.name.endswith("UpperLeg")]
    m = np.array(plan.to_rig_frame)
    assert thighs == pytest.approx([0.88 * m[2, 2] + m[2, 3]] * 2, abs=0.005 * plan.height)
    assert not any("skirt" in note for note in plan.notes), plan.notes


def test_a_robot_of_separate_parts_with_a_big_head_short_legs_and_wide_arms_rigs() -> None:
    """A kit-bashed body: every shell of the chibi its own part, shrunk apart (a gap between every two), and
    squashed to short legs so its T-pose spans 1.8 times its height. No part carries the body (the lowest is a
    foot, off the mid-line), and it is no lying figure."""
    chibi = figure(chibi=True)
    body = chibi.parts[0]
    labels = rigid.pieces(body.vertices, body.triangles)
    parts = []
    for i, root in enumerate(np.unique(labels)):
        keep = np.flatnonzero(labels == root)
        index = np.full(len(body.vertices), -1)
        index[keep] = np.arange(len(keep))
        mine = body.vertices[keep]
        centre = (mine.max(axis=0) + mine.min(axis=0)) / 2
        parts.append(
            MeshPart(
                f"Part{i}", centre + 0.9 * (mine - centre), index[body.triangles[labels[body.triangles[:, 0]] == root]]
            )
        )
    robot = Figure(parts, chibi.joints).transformed(np.diag([1.0, 1.0, 0.55, 1.0]))
    every = np.concatenate([p.vertices for p in robot.parts])
    span, tall = np.ptp(every[:, 0]), np.ptp(every[:, 2])
    assert len(robot.parts) > 15 and span > 1.7 * tall
    plan = plan_rig(robot.parts)
    err = errors(robot, plan)
    legs_and_trunk = {k: v for k, v in err.items() if "Arm" not in k and "Hand" not in k}
    assert max(legs_and_trunk.values()) < 0.08, legs_and_trunk
    short = {b.name for b in plan.bones if np.linalg.norm(np.subtract(b.tail, b.head)) < 0.005 * plan.height}
    assert not short, f"bones of no length: {short}"


def _robot_arm() -> list[tuple[Any, Any]]:
    """A robot arm mounted on the back, rising over the left shoulder and reaching out and down past the left
    hand a fifth of the height behind the body (Seed-san's, as a generator fuses it to her)."""
    mount, top, elbow, tip = (0, 0.14, 1.25), (0.25, 0.33, 1.62), (0.8, 0.33, 1.25), (1.35, 0.33, 0.85)
    return [capsule(mount, top, 0.05), capsule(top, elbow, 0.05), capsule(elbow, tip, 0.045)]


def test_a_prop_fused_to_one_side_is_left_out_and_the_arms_read_from_the_body() -> None:
    """A robot arm fused in the body's own mesh, hanging from the back and reaching past the left hand, turns the
    whole mesh's span and reads as the left arm (its left and right would not mirror): the body is read again
    from its own span, within the plane of the body, and rigged where its joints are."""
    fig = figure(arm_drop=40)
    body = fig.parts[0]
    fig.parts[0] = MeshPart(body.name, *merged([(body.vertices, body.triangles), *_robot_arm()]))
    plan = plan_rig(fig.parts)
    assert any(n.startswith("a prop fused to the body left out") for n in plan.notes), plan.notes
    assert plan.prop_beyond is not None and 0.0 < plan.prop_beyond < 0.33 - 0.05
    assert_joints_close(fig, plan)
