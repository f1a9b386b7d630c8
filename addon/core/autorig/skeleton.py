"""From landmarks to bones: joint heights between the found landmarks, tails at the next joint, the pairs
mirrored and averaged about the mid-plane."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..rig import humanoid
from ..rig.model import FloatArray, IntArray
from .arms import Arm
from .hands import Hand
from .legs import Leg, Legs
from .sections import Surface, regions_in_plane
from .torso import Torso, shells_of, surrounds, trunk_box, trunk_centre
from .types import Bone, NotHumanoidError

_FINGER_SEGMENTS = {
    "Thumb": ("Metacarpal", "Proximal", "Distal"),
    **{f: ("Proximal", "Intermediate", "Distal") for f in ("Index", "Middle", "Ring", "Little")},
}
UPPER_CHEST_MIN = 0.2  # metres from hips to neck below which the torso holds no upper chest
HIPS_ABOVE = 0.01  # the hips' joint above the thighs' (a fraction of the height)
# A leg's cut this much wider than its cut 1% of the height below is a garment's hem: a thigh widens gradually.
HEM = 1.5


_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])


def build(
    pieces: Sequence[Surface],
    legs: Legs,
    torso: Torso,
    arms: list[Arm],
    hands: list[Hand],
    *,
    eyes: dict[str, FloatArray],
    height: float,
) -> tuple[Bone, ...]:
    """The bones (parents first), left = +X, from the landmarks; `pieces` are the body's parts one by one."""
    trunk = [(piece, shells_of(piece)) for piece in pieces]
    heads, tails, pelvis = _leg_joints(pieces, trunk, legs, height)
    neck_z = torso.neck_base
    spine_heights = {"hips": pelvis + HIPS_ABOVE * height}
    length = neck_z - spine_heights["hips"]
    # Between hips and neck, where artists' rigs put them (a median over real avatars).
    spine_heights["spine"] = spine_heights["hips"] + 0.2 * length
    if length >= UPPER_CHEST_MIN:
        spine_heights["chest"] = spine_heights["hips"] + 0.48 * length
        spine_heights["upperChest"] = spine_heights["hips"] + 0.74 * length
    else:
        spine_heights["chest"] = spine_heights["hips"] + 0.5 * length
    spine_heights["neck"] = neck_z
    # The torso's own region of each cut, followed up from above the legs (hair behind the back is apart),
    # a cut every 1% of the height and one at each joint.
    ladder = np.union1d(np.arange(spine_heights["hips"], neck_z, 0.01 * height), list(spine_heights.values()))
    near = (heads["leftUpperLeg"] + heads["rightUpperLeg"]) / 2
    front, back = np.empty(len(ladder)), np.empty(len(ladder))
    for i, z in enumerate(ladder):
        box = trunk_box(trunk, float(z), np.array([0.0, near[1], z]), 0.004 * height)
        y = torso.y_at(float(z))
        front[i], back[i] = (y, y) if box is None else (box[0][1], box[1][1])
        near = np.array([0.0, (front[i] + back[i]) / 2, z])
    # Something fused on behind the body would move the midway point back by half its depth: taken off.
    centre = (front + back - fused_behind(front, back, 2, 0.03 * height)) / 2
    for name, z in spine_heights.items():
        heads[name] = np.array([0.0, float(centre[np.searchsorted(ladder, z)]), z])
    if torso.column is not None:  # no neck narrowing: the loop there may be a head or a hood behind the neck
        heads["neck"][1] = torso.column
    # The head's joint sits on the neck's column (where the head begins, the chin, the jaw and the mouth's
    # inside are in the cut, all to the front), at the skull's base: a little above the chin's underside,
    # where the cut widens (1% of the height, the median of artists' rigs).
    heads["head"] = np.array([0.0, heads["neck"][1], torso.head_base + 0.01 * height])
    tails["head"] = np.array([0.0, heads["head"][1], torso.top])
    for side, arm, hand in (("left", arms[0], hands[0]), ("right", arms[1], hands[1])):
        heads[f"{side}Shoulder"] = np.array([0.2 * arm.shoulder[0], arm.shoulder[1], arm.shoulder[2]])
        heads |= {f"{side}UpperArm": arm.shoulder, f"{side}LowerArm": arm.elbow, f"{side}Hand": hand.wrist}
        tails[f"{side}Hand"] = hand.wrist + 0.5 * (hand.tip - hand.wrist)
        for finger, joints in hand.fingers.items():
            names = [f"{side}{finger}{seg}" for seg in _FINGER_SEGMENTS[finger]]
            heads |= dict(zip(names, joints[:3], strict=True))
            tails[names[-1]] = joints[3]
        if "Middle" in hand.fingers:
            tails[f"{side}Hand"] = hand.fingers["Middle"][0]
    for name, centre in eyes.items():
        heads[name] = centre
        tails[name] = centre - np.array([0.0, 0.02 * height, 0.0])
    return _bones(heads, tails, height)


def _leg_joints(
    pieces: Sequence[Surface], trunk: Sequence[tuple[Surface, IntArray]], legs: Legs, height: float
) -> tuple[dict[str, FloatArray], dict[str, FloatArray], float]:
    """Each leg's joints (thigh, knee, ankle, toes) and the toes' tails, and the height of the pelvis the
    spine starts from."""
    heads: dict[str, FloatArray] = {}
    tails: dict[str, FloatArray] = {}
    # The thighs' joints sit above the crotch by about a third of a thigh's width: the leg's own, not loose
    # shorts' around it (up to twice as wide). The hips' joint keeps to the cut's width, garment and all:
    # artists put it anywhere from the thighs' joints up to the waist, and lower it would only be further
    # from the waist.
    below = legs.crotch - 0.03 * height
    cut = min(legs.left.half_width(below), legs.right.half_width(below))
    thigh = min(_thigh_half_width(leg, below, height) for leg in (legs.left, legs.right))
    hip_z = legs.top if legs.top is not None else legs.crotch + 0.6 * thigh
    pelvis = legs.top if legs.top is not None else legs.crotch + 0.6 * cut
    for side, leg in (("left", legs.left), ("right", legs.right)):
        axis = _leg_axis(pieces, leg, below, height)
        upper = _on_axis(trunk, axis, below, height)
        upper[2] = hip_z
        cap = leg.kneecap(hip_z, height)
        if cap is not None and _worn_in_front(pieces, axis, cap, height):
            cap = None
        knee = _on_axis(trunk, axis, (hip_z + leg.ankle[2]) / 2 if cap is None else float(cap[0]), height)
        if cap is not None:
            knee[1] = cap[1]
        # The ball of the foot, about halfway from the ankle to the toes' tip (the median of artists' rigs).
        toes = leg.ankle + 0.55 * (leg.toe_tip - leg.ankle)
        toes[2] = 0.02 * height
        heads |= {f"{side}UpperLeg": upper, f"{side}LowerLeg": knee, f"{side}Foot": leg.ankle, f"{side}Toes": toes}
        tails[f"{side}Toes"] = np.array([leg.toe_tip[0], leg.toe_tip[1], toes[2]])
    return heads, tails, pelvis


def fused_behind(front: FloatArray, back: FloatArray, cuts: int, jump: float) -> FloatArray:
    """Per cut (lowest first; `front` and `back` its extent along Y, +Y behind), how far the back stands out
    behind the body's own. Where the back moves out by more than `jump` within `cuts` cuts going up while the
    front stays (a box torso on a box pelvis grows both ways), something is fused on behind the body (long
    hair, a backpack, a hood, a cape): it stands out by that much until the back comes in again by most of
    it."""
    out = np.zeros(len(back))
    held, base, since = 0.0, 0.0, 0
    for i in range(1, len(back)):
        lo = max(0, i - cuts)
        out_back = float(back[i] - back[lo:i].min())
        out_front = float(front[lo:i].max() - front[i])
        if held == 0.0 and out_back > jump and out_front < out_back / 3:
            held, base, since = out_back, float(back[lo:i].min()), 0
        elif held > 0.0 and since < cuts:  # the step may take a few cuts to reach its full depth
            held = max(held, float(back[i]) - base)
        elif held > 0.0 and back[i] - back[lo:i].max() < -0.6 * held:
            held = 0.0
        since += 1
        out[i] = held
    return out


def _thigh_half_width(leg: Leg, z: float, height: float) -> float:
    """Half the thigh's width along X at height z: the leg's cut there, or, past the hem of shorts or a skirt's
    lining wrapping the thigh (the lowest cut between the knee and z HEM times as wide as the leg's 1% of the
    height below it), the leg's own cut below the hem."""
    knee = (leg.ankle[2] + z) / 2
    for at, width in zip(leg.heights, leg.widths, strict=True):
        under = leg.half_width(float(at) - 0.01 * height)
        if knee < at <= z and width > HEM * 2 * under:
            return under
    return leg.half_width(z)


def _worn_in_front(pieces: Sequence[Surface], axis: FloatArray, cap: FloatArray, height: float) -> bool:
    """Whether what reads as a kneecap (`Leg.kneecap`: z, joint y, front y) is something worn in front of the
    leg, a gap apart from it (a knee pad, a strap): the leg's own loop at that height, around its line, ends
    behind the kneecap's front. A kneecap is the leg's own surface, or a part sunk into it. (Loops a third of a
    centimetre apart on a 1.7 m figure are apart.)"""
    cell = 0.002 * height
    loops = [loop for piece in pieces for loop in regions_in_plane(piece.cut_z(float(cap[0])), _X, _Y, cell)]
    own = [loop for loop in loops if surrounds(loop, axis)]
    return bool(own) and min(float(loop[:, 1].min()) for loop in own) > cap[2] + 0.005 * height


def _leg_axis(pieces: Sequence[Surface], leg: Leg, top: float, height: float) -> FloatArray:
    """The leg's line: the median (x, y) of its centres over the upper two thirds from the ankle to `top`.
    One cut's centre can be off it, where a strap or a tail hanging beside the leg touches its loop."""
    heights = np.linspace(leg.ankle[2] + 0.33 * (top - leg.ankle[2]), top, 8)
    return np.asarray(np.median([leg.at(pieces, float(z), height)[:2] for z in heights], axis=0), dtype=np.float64)


def _on_axis(trunk: Sequence[tuple[Surface, IntArray]], axis: FloatArray, z: float, height: float) -> FloatArray:
    """The centre at height z of the leg's own loop around its line (its shells that surround the line); the
    line itself where that loop is off it (both legs and the hips together, or no loop at all)."""
    on_line = np.array([axis[0], axis[1], z])
    found = trunk_centre(trunk, z, on_line, 0.004 * height)
    return on_line if found is None or abs(found[0] - axis[0]) > 0.03 * height else found


def _bones(heads: dict[str, FloatArray], tails: dict[str, FloatArray], height: float) -> tuple[Bone, ...]:
    placed = {name for name in humanoid.HUMAN_BONES if name in heads}
    bones = []
    for name in humanoid.HUMAN_BONES:
        if name not in placed:
            continue
        children = [c for c in humanoid.HUMAN_BONES if c in placed and humanoid.mapped_parent(c, placed) == name]
        main = [c for c in children if not c.endswith(("Eye", "Shoulder", "UpperLeg", "Thumb" + "Metacarpal"))]
        tail = tails.get(name, heads[main[0]] if main else heads[name] + np.array([0.0, 0.0, 0.05 * height]))
        if np.linalg.norm(tail - heads[name]) < 0.005 * height:
            tail = heads[name] + np.array([0.0, 0.0, 0.02 * height])
        bones.append(Bone(name, _vec(heads[name]), _vec(tail), humanoid.mapped_parent(name, placed)))
    return tuple(bones)


def _vec(p: FloatArray) -> tuple[float, float, float]:
    return (float(p[0]), float(p[1]), float(p[2]))


# How far apart a left/right pair's joints may lie once mirrored, as a share of the height. Humanoids as
# artists and generators make them place within 2%; past a quarter of the height one side's limb is something
# else (a prop fused to the body, an axis marker), and averaging the two would put both limbs where neither is.
MIRROR_LIMIT = 0.25


class AsymmetricError(NotHumanoidError):
    """A left joint and its right twin do not mirror; `bones` are the skeleton as read, before averaging."""

    def __init__(self, reason: str, bones: tuple[Bone, ...]) -> None:
        super().__init__(reason)
        self.bones = bones


def symmetric(bones: tuple[Bone, ...], height: float) -> tuple[tuple[Bone, ...], float, float]:
    """The bones shifted so the mid-plane (the mean of each left/right pair's midpoint) is x=0, each pair
    mirrored and averaged, centre bones on x=0; the shift's x; and how far apart the worst pair's joints lie
    once mirrored. AsymmetricError when the two sides of a pair do not mirror each other."""
    by_name = {b.name: b for b in bones}
    pairs = [
        (b.name, "right" + b.name[4:]) for b in bones if b.name.startswith("left") and "right" + b.name[4:] in by_name
    ]
    centre = float(np.mean([(by_name[a].head[0] + by_name[b].head[0]) / 2 for a, b in pairs])) if pairs else 0.0
    flip = np.array([-1.0, 1.0, 1.0])
    apart = {
        a[4:]: float(
            np.linalg.norm((np.array(by_name[a].head) - np.array(by_name[b].head) * flip) - [2 * centre, 0, 0])
        )
        for a, b in pairs
    }
    worst = max(apart, key=apart.__getitem__, default=None)
    if worst is not None and apart[worst] > MIRROR_LIMIT * height:
        raise AsymmetricError(
            f"left and right do not mirror: the {worst[0].lower() + worst[1:]} joints lie "
            f"{apart[worst] / height:.0%} of the height apart once mirrored (one side's limb is something else: "
            "a prop or accessory joined to the body, or parts no cross-section reads as a limb)",
            bones,
        )
    out = []
    for bone in bones:
        other = by_name.get(_mirror_name(bone.name))
        head, tail = np.array(bone.head) - [centre, 0, 0], np.array(bone.tail) - [centre, 0, 0]
        if other is not None and other is not bone:
            head = (head + (np.array(other.head) - [centre, 0, 0]) * flip) / 2
            tail = (tail + (np.array(other.tail) - [centre, 0, 0]) * flip) / 2
        elif (other is None or other is bone) and not bone.name.startswith(("left", "right")):
            head[0] = tail[0] = 0.0
        out.append(Bone(bone.name, _vec(head), _vec(tail), bone.parent))
    return tuple(out), centre, apart[worst] if worst is not None else 0.0


def _mirror_name(name: str) -> str:
    if name.startswith("left"):
        return "right" + name[4:]
    if name.startswith("right"):
        return "left" + name[5:]
    return name
