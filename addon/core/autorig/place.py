"""plan_rig: bare meshes in, a humanoid skeleton plan out.

The order: scale to metres, pick the body's parts, refuse what does not stand on two feet, turn the sides
onto X, find the legs, torso, neck and head from horizontal cuts, decide the front by a vote (turning half
round when it is +Y), find the arms and hands from cuts across each arm, then place the bones, mirrored
and averaged about the mid-plane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..rig.model import FloatArray, IntArray
from . import frame as frames
from . import skeleton
from .arms import find_arm, sheets
from .frame import Frame
from .hands import Hand, find_hand
from .head import find_eyes
from .legs import Leg, Legs, find_legs
from .rigid import kit_bashed, on_balls
from .rigid import pieces as separate_pieces
from .sections import Surface
from .torso import Torso, find_torso
from .types import Bone, MeshPart, NotHumanoidError, RigPlan, UnusableMeshError

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])


def plan_rig(parts: Sequence[MeshPart], spec_version: str = "1.0") -> RigPlan:
    """The skeleton for these meshes, in the rig frame; NotHumanoidError when they are no standing humanoid.

    Every bone VRM 1.0 and 0.x require is always placed, so `spec_version` changes nothing yet.

    When left and right do not mirror, or mirror loosely (past LOOSE), the body is read again from its own span
    only (the sides and the arms within the plane of the body, over the feet): a prop fused to one side (a
    robot arm on the back reaching out past one hand) turns the whole mesh's span and is read as an arm, and a
    sword held out forward draws its hand's arm toward the blade's tip. That reading is kept when it mirrors
    better and one side's arm is where the first reading had it (that side's limb was the body's own); else
    the first reading stands, or its refusal (a body of markers, not limbs, reads as nothing either way)."""
    del spec_version
    broken = [p.name for p in parts if not np.isfinite(p.vertices).all()]
    if broken:
        raise UnusableMeshError(f"a broken mesh: {broken[0]!r} has vertices whose coordinates are NaN or infinite")
    if not any(len(p.triangles) for p in parts) and any(len(p.vertices) for p in parts):
        raise UnusableMeshError("nothing to rig: vertices only, no faces (a point cloud?)")
    parts = [p for p in parts if len(p.vertices) and len(p.triangles)]
    low, high = _extent(parts)
    scale, scale_note = frames.unit_scale(float(high[2] - low[2]))
    notes = [scale_note] if scale_note else []
    height = float(high[2] - low[2]) * scale
    body = frames.choose_body(parts, float(low[2]), float(high[2] - low[2]))
    apart = frames.apart_from_body(parts, body, float(high[2] - low[2]))
    if apart is not None:
        raise NotHumanoidError(
            f"{apart[0]!r} stands apart from the body, {apart[1]:.0%} of the height away: another object in the "
            "scene, not the avatar's (rig the avatar without it)"
        )
    floor = float(low[2]) * scale
    # A scan's holes would break the cuts' loops; the other parts are read as vertices only.
    parts = [frames.close_holes(p) if i in body else p for i, p in enumerate(parts)]
    try:
        first = _read(parts, body, scale=scale, floor=floor, height=height, notes=notes)
    except skeleton.AsymmetricError as plain:
        limit = skeleton.MIRROR_LIMIT * height
        again = _body_only(parts, body, plain.bones, limit, scale=scale, floor=floor, height=height, notes=notes)
        if again is None:
            raise plain from None
        return again
    if first.apart <= LOOSE * height:
        return first.plan
    again = _body_only(parts, body, first.read, first.apart, scale=scale, floor=floor, height=height, notes=notes)
    return first.plan if again is None else again


# Of the height: how near the body-only reading's arm joints must lie to one side's of the first reading.
AGREE = 0.03
_ARM = ("UpperArm", "LowerArm", "Hand")
# Of the height: a left/right pair mirroring worse than this is read again from the body's own span. Artists'
# avatars mirror within 2%; a sword held out forward in one hand draws that arm's elbow 15% from the other's.
LOOSE = 0.08


def _body_only(
    parts: Sequence[MeshPart],
    body: list[int],
    read: tuple[Bone, ...],
    apart: float,
    *,
    scale: float,
    floor: float,
    height: float,
    notes: list[str],
) -> RigPlan | None:
    """The plan read from the body's own span (plan_rig) when it mirrors within `apart` (metres) and one side's
    arm is where the first reading (`read`) had it; None when not."""
    try:
        again = _read(parts, body, scale=scale, floor=floor, height=height, notes=notes, body_only=True)
    except NotHumanoidError:
        return None
    kept = _kept_side(read, again.plan)
    if kept is None or again.apart > apart:
        return None
    note = f"a prop fused to the body left out: the arms read within the body's own span, as the {kept} arm"
    return replace(again.plan, notes=(*again.plan.notes, note), prop_beyond=frames.BAND * height)


def _kept_side(read: tuple[Bone, ...], plan: RigPlan) -> str | None:
    """Which side's arm of the first reading (`read`, world coordinates, not mirrored) the body-only `plan`
    has where it was, within AGREE of the height at each joint (the upper arm, the elbow, the wrist); None
    when neither."""
    matrix = np.array(plan.to_rig_frame)
    first = {b.name: np.array(_point(matrix, b.head)) for b in read}
    found = {b.name: np.array(b.head) for b in plan.bones}
    for side in ("left", "right"):
        names = [side + joint for joint in _ARM]
        if all(n in first and n in found for n in names) and all(
            np.linalg.norm(first[n] - found[n]) <= AGREE * plan.height for n in names
        ):
            return side
    return None


@dataclass(frozen=True)
class _Reading:
    plan: RigPlan
    read: tuple[Bone, ...]  # the bones as read, before mirroring, in world coordinates
    apart: float  # metres: how far apart the worst left/right pair lies once mirrored


def _read(
    parts: Sequence[MeshPart],
    body: list[int],
    *,
    scale: float,
    floor: float,
    height: float,
    notes: list[str],
    body_only: bool = False,
) -> _Reading:
    """The skeleton read from the `body` parts (see plan_rig); skeleton.AsymmetricError with the bones as read, in
    world coordinates, when they do not mirror."""
    notes = list(notes)
    triangles = np.concatenate([parts[i].triangles + off for i, off in zip(body, _offsets(parts, body), strict=True)])
    rig, legs, torso, vertices = _stand(
        parts, body, triangles, scale=scale, floor=floor, height=height, notes=notes, body_only=body_only
    )
    corners = vertices[triangles]
    # Each mesh part's pieces apart (as the binding tells them): parts touching across meshes stay apart.
    labels = np.concatenate([separate_pieces(parts[i].vertices, parts[i].triangles) + o
                             for i, o in zip(body, _offsets(parts, body), strict=True)])  # fmt: skip
    # A kit-bashed body's parts are its segments: the arms' joints are where they meet.
    kit = labels[triangles[:, 0]] if kit_bashed(vertices, labels, height=height) else None
    # Where the legs end below the torso, a gap apart (a figure of boxes whose torso begins high), what hangs
    # beside the gap is the arms': they are read down to the legs' tops, not the torso's bottom.
    lowest = legs.crotch if legs.top is None else min(legs.crotch, legs.top)
    apart = sheets(corners, torso, lowest, height)  # the same for both arms: found once
    arms = [
        find_arm(corners, kit, torso, lowest, side=side, height=height, apart=apart, body_only=body_only)
        for side in (1.0, -1.0)
    ]
    drop = (arms[0].angle + arms[1].angle) / 2
    notes.append(f"{'T' if drop < 20 else 'A'}-pose: arms {drop:.0f}° below horizontal")
    hands = [find_hand(arm, height) for arm in arms]
    if min(arm.tip[2] for arm in arms) < lowest + 0.02 * height:
        # The arms are read above the crotch only: a hand hanging lower is cut off there, its cuts no hand's.
        hands = [Hand(arm.wrist, arm.tip) for arm in arms]
        notes.append("the hands hang below the crotch: no finger bones, the hands' ends uncertain")
    elif not all(h.fingers for h in hands):
        hands = [Hand(h.wrist, h.tip) for h in hands]  # one hand's fingers alone would break the symmetry
        notes.append("fingers fused: no finger bones")
    others = [(p.name, rig.apply(p.vertices)) for i, p in enumerate(parts) if i not in body]
    eyes, rigid = find_eyes(others, torso, height)
    pieces = _pieces(parts, body, rig)
    built = skeleton.build(pieces, legs, torso, arms, hands, eyes=eyes, height=height)
    if kit is not None:
        # A robot's leg swivels on the balls between its parts: the joints are their centres.
        legs_bones = [b for b in built if b.name.endswith(("UpperLeg", "LowerLeg", "Foot"))]
        found = on_balls(vertices, labels, np.array([b.head for b in legs_bones]), height=height)
        moved = {b.name: tuple(float(v) for v in at) for b, at in zip(legs_bones, found, strict=True)}
        # The hips stay above the thighs' joints, as the skeleton places them (1% of the height).
        hips = next(b.head for b in built if b.name == "hips")
        lowest = max(moved[f"{side}UpperLeg"][2] for side in ("left", "right")) + skeleton.HIPS_ABOVE * height
        moved["hips"] = (hips[0], hips[1], max(hips[2], lowest))
        built = tuple(replace(b, head=moved.get(b.name, b.head)) for b in built)  # type: ignore[arg-type]
    world = np.linalg.inv(rig.matrix())
    read = tuple(Bone(b.name, _point(world, b.head), _point(world, b.tail), b.parent) for b in built)
    try:
        bones, centre, worst = skeleton.symmetric(built, height)
    except skeleton.AsymmetricError as refused:
        raise skeleton.AsymmetricError(str(refused), read) from None
    matrix = rig.matrix()
    matrix[0, 3] -= centre
    notes.append(f"mid-plane: x={centre:+.3f} m from the feet's midpoint")
    plan = RigPlan(
        bones=bones,
        to_rig_frame=tuple(tuple(float(v) for v in row) for row in matrix),  # type: ignore[arg-type]
        height=height,
        rigid=rigid,
        notes=tuple(notes),
    )
    return _Reading(plan, read, worst)


def _point(matrix: FloatArray, p: tuple[float, float, float]) -> tuple[float, float, float]:
    q = matrix[:3, :3] @ np.array(p) + matrix[:3, 3]
    return (float(q[0]), float(q[1]), float(q[2]))


def _extent(parts: Sequence[MeshPart]) -> tuple[FloatArray, FloatArray]:
    """The lowest and highest corner of all parts; refuses nothing, flat and lying-down meshes."""
    every = np.concatenate([p.vertices for p in parts]) if parts else np.zeros((0, 3))
    if len(every) < frames.MIN_VERTICES:
        raise UnusableMeshError(f"nothing to rig: {len(every)} vertices")
    low, high = every.min(axis=0), every.max(axis=0)
    tall = float(high[2] - low[2])
    for part in parts:
        size = part.vertices.max(axis=0) - part.vertices.min(axis=0)
        # A thin part at the bottom wider both ways than a pair of soles: what the figure stands on.
        if (
            len(parts) > 1
            and size[2] < 0.05 * tall
            and part.vertices[:, 2].max() < low[2] + 0.05 * tall
            and min(size[:2]) > 0.3 * tall
        ):
            raise NotHumanoidError(
                f"{part.name!r} lies flat under the feet: a floor, a ground or a base (rig the avatar without it)"
            )
    narrow, across = sorted(float(v) for v in (high - low)[:2])
    if tall <= 1e-6 * max(across, 1e-9):
        raise UnusableMeshError("nothing to rig: the mesh is flat")
    # Spread arms may reach far: a big-headed, short-legged robot's T-pose spans 1.7 times its height. A lying
    # figure is low across both ways (or very low along its length).
    if tall < 0.6 * narrow or tall < 0.4 * across:
        raise NotHumanoidError(
            f"not standing: {across / tall:.1f}× longer than tall (lying down, or an animal or a piece of furniture)"
        )
    return low, high


def _stand(
    parts: Sequence[MeshPart],
    body: list[int],
    triangles: IntArray,
    *,
    scale: float,
    floor: float,
    height: float,
    notes: list[str],
    body_only: bool,
) -> tuple[Frame, Legs, Torso, FloatArray]:
    """The rig frame (sides on X, front −Y), the legs and the torso in it; refuses what does not stand on
    two feet. With `body_only`, the sides from the body's own span (frame.turn_to_sides)."""
    scaled = np.concatenate([parts[i].vertices for i in body]) * scale
    surface = Surface.of(scaled, triangles)
    feet = frames.feet_on_floor(surface, floor, height)
    if len(feet) > 2:
        raise NotHumanoidError(
            f"{len(feet)} separate supports reach the floor, not two feet (furniture, an animal, several characters, "
            "or a tail or a prop standing on the floor)"
        )
    angle, how = frames.turn_to_sides(scaled, feet, height, body_only=body_only)
    notes.append(f"sides from {how}")
    mid = np.mean([f.mean(axis=0) for f in feet], axis=0) if len(feet) == 2 else (scaled.max(0) + scaled.min(0)) / 2
    if frames.toes_toward_plus_y(scaled, feet, angle, floor, height):
        angle += math.pi
    rig = _frame(scale, angle, mid, floor)
    legs, torso, vertices, votes = _lower_body(rig, parts, body, triangles, height)
    turn, how = frames.front(votes, angle)
    notes.append(how)
    if turn:  # the front is +Y: turn half round
        rig = _frame(scale, angle + math.pi, mid, floor)
        legs, torso, vertices, _ = _lower_body(rig, parts, body, triangles, height)
    notes.extend(torso.notes)
    if legs.hidden:
        notes.append("a skirt hides the crotch: the legs followed up inside it")
    return rig, legs, torso, vertices


def _frame(scale: float, angle: float, mid: FloatArray, floor: float) -> Frame:
    """The frame turned by `angle` whose origin is under `mid` (a scaled world point) on the floor."""
    turned = Frame(1.0, angle, np.zeros(3)).apply(mid[None])[0]
    return Frame(scale, angle, np.array([-turned[0], -turned[1], -floor]))


def _pieces(parts: Sequence[MeshPart], body: list[int], rig: Frame) -> list[Surface]:
    """The body's surfaces one by one: a part each, or one for the parts of a surface split by material
    (frame.seam_groups), whose loops run on across the seams (a part's piece of one would read as a loop)."""
    surfaces = []
    for group in frames.seam_groups([parts[i] for i in body]):
        chosen = [body[k] for k in group]
        triangles = np.concatenate(
            [parts[i].triangles + o for i, o in zip(chosen, _offsets(parts, chosen), strict=True)]
        )
        surfaces.append(Surface.of(np.concatenate([rig.apply(parts[i].vertices) for i in chosen]), triangles))
    return surfaces


def _offsets(parts: Sequence[MeshPart], chosen: list[int]) -> list[int]:
    sizes = [len(parts[i].vertices) for i in chosen]
    return [int(v) for v in np.cumsum([0, *sizes[:-1]])]


def _lower_body(
    rig: Frame, parts: Sequence[MeshPart], body: list[int], triangles: IntArray, height: float
) -> tuple[Legs, Torso, FloatArray, dict[str, int]]:
    vertices = np.concatenate([rig.apply(parts[i].vertices) for i in body])
    surface = Surface.of(vertices, triangles)
    legs = find_legs(surface, height)
    torso = find_torso(surface, _pieces(parts, body, rig), legs.crotch, float(vertices[:, 2].max()), height)
    # One vote a foot (toes ahead of the ankle) and one for the face (the head's middle ahead of the neck); a
    # foot reaching as far behind its ankle as ahead, or a head centred on its neck, does not vote.
    votes = {"the feet": sum(_foot(leg, 0.01 * height) for leg in (legs.left, legs.right))}
    head = vertices[vertices[:, 2] > torso.head_base]
    if len(head):
        votes["the face"] = _sign(((head.max(0) + head.min(0)) / 2)[1] - torso.y_at(torso.neck), 0.005 * height)
    return legs, torso, vertices, votes


def _foot(leg: Leg, dead: float) -> int:
    """Which way (-1: −Y, +1: +Y, 0: neither) the foot reaches further from its ankle."""
    ahead, behind = leg.toe_tip[1] - leg.ankle[1], leg.heel[1] - leg.ankle[1]
    return _sign(ahead, dead) if abs(ahead) - abs(behind) > dead else 0


def _sign(value: float, dead: float) -> int:
    return 0 if abs(value) < dead else (1 if value > 0 else -1)
