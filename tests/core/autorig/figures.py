"""Synthetic test figures built in numpy from capsules: a humanoid whose joints are known by construction
(metres, +Z up, facing −Y, its left at +X), its variants, and things that are not humanoids."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from addon.core.autorig import MeshPart

Array = npt.NDArray[np.float64]
Shell = tuple[Array, npt.NDArray[np.int64]]


def capsule(a, b, r: float, n: int = 16, m: int = 6) -> Shell:
    """A closed capsule from a to b (a sphere when they are equal), as (vertices, triangles)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    axis = b - a
    length = float(np.linalg.norm(axis))
    w = axis / length if length > 1e-12 else np.array([0.0, 0.0, 1.0])
    u = np.cross(w, [0.0, 0.0, 1.0] if abs(w[2]) < 0.9 else [1.0, 0.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(w, u)
    lat = np.concatenate([np.linspace(-math.pi / 2, 0, m + 1), np.linspace(0, math.pi / 2, m + 1)])
    ends = [a] * (m + 1) + [b] * (m + 1)
    theta = np.linspace(0, 2 * math.pi, n, endpoint=False)
    ring = np.cos(theta)[:, None] * u + np.sin(theta)[:, None] * v
    rows = [c + r * (math.cos(phi) * ring + math.sin(phi) * w) for phi, c in zip(lat, ends, strict=True)]
    vertices = np.concatenate(rows)
    tris = []
    for i in range(len(rows) - 1):
        for k in range(n):
            p, q = i * n + k, i * n + (k + 1) % n
            tris += [(p, q, q + n), (p, q + n, p + n)]
    return vertices, np.array(tris, dtype=np.int64)


def tube(a, b, r_a: float, r_b: float, n: int = 24) -> Shell:
    """An open tube (no caps) from a to b, radius r_a to r_b: a skirt."""
    theta = np.linspace(0, 2 * math.pi, n, endpoint=False)
    ring = np.stack([np.cos(theta), np.sin(theta), np.zeros(n)], axis=1)
    vertices = np.concatenate([np.asarray(a, float) + r_a * ring, np.asarray(b, float) + r_b * ring])
    tris = [t for k in range(n) for t in ((k, (k + 1) % n, n + (k + 1) % n), (k, n + (k + 1) % n, n + k))]
    return vertices, np.array(tris, dtype=np.int64)


def loft(rings: list[tuple[float, float, float, float]], x: float, n: int = 24) -> Shell:
    """A closed shell through horizontal ellipses (z, half width along X, half depth along Y, centre's y),
    bottom to top, centred on X = x, each end closed by a fan."""
    theta = np.linspace(0, 2 * math.pi, n, endpoint=False)
    rows = [np.stack([x + a * np.cos(theta), cy + b * np.sin(theta), np.full(n, z)], axis=1) for z, a, b, cy in rings]
    ends = [(x, cy, z) for z, _, _, cy in (rings[0], rings[-1])]
    vertices = np.concatenate([*rows, np.array(ends, dtype=float)])
    bottom, top = len(rows) * n, len(rows) * n + 1
    tris = [(bottom, (k + 1) % n, k) for k in range(n)]
    tris += [(top, (len(rows) - 1) * n + k, (len(rows) - 1) * n + (k + 1) % n) for k in range(n)]
    for i in range(len(rows) - 1):
        for k in range(n):
            p, q = i * n + k, i * n + (k + 1) % n
            tris += [(p, q, q + n), (p, q + n, p + n)]
    return vertices, np.array(tris, dtype=np.int64)


# A shaped lower leg as modelled or scanned, from the sole to above the knee (z, half width, half depth,
# centre's y; metres, the ankle's joint at 0.08): the foot narrowing up the instep, the ankle bones, the
# shin narrowest 4 cm above them, the calf.
SHAPED_SHIN = [
    (0.0, 0.045, 0.13, -0.06),
    (0.03, 0.045, 0.12, -0.05),
    (0.06, 0.04, 0.06, -0.01),
    (0.08, 0.04, 0.042, 0.0),
    (0.12, 0.03, 0.035, 0.0),
    (0.16, 0.031, 0.036, 0.0),
    (0.3, 0.05, 0.055, 0.0),
    (0.46, 0.048, 0.05, 0.0),
    (0.5, 0.05, 0.05, 0.0),
]


def squashed(shell: Shell, centre, scale) -> Shell:
    """The shell scaled about `centre` per axis (an ellipsoid torso, a flat palm)."""
    v, t = shell
    return (v - centre) * np.asarray(scale, float) + centre, t


def merged(shells: list[Shell]) -> Shell:
    offsets = np.cumsum([0] + [len(v) for v, _ in shells[:-1]])
    return np.concatenate([v for v, _ in shells]), np.concatenate(
        [t + o for (_, t), o in zip(shells, offsets, strict=True)]
    )


def _turn_y(points: Array, pivot: Array, degrees: float) -> Array:
    a = math.radians(degrees)
    rel = points - pivot
    x = rel[..., 0] * math.cos(a) + rel[..., 2] * math.sin(a)
    z = -rel[..., 0] * math.sin(a) + rel[..., 2] * math.cos(a)
    return np.asarray(np.stack([x, rel[..., 1], z], axis=-1) + pivot, dtype=np.float64)


@dataclass
class Figure:
    parts: list[MeshPart]
    joints: dict[str, Array] = field(default_factory=dict)  # world positions by construction

    def transformed(self, matrix: Array) -> Figure:
        """The same figure moved by a 4×4 matrix (turned, scaled, laid down)."""

        def move(p: Array) -> Array:
            return np.asarray(p @ matrix[:3, :3].T + matrix[:3, 3], dtype=np.float64)

        return Figure(
            [MeshPart(p.name, move(p.vertices), p.triangles) for p in self.parts],
            {k: move(v) for k, v in self.joints.items()},
        )


KNEECAP = (-0.05, 0.47)  # (y, z) of the kneecap's ball: its front 2 cm before the thigh's, just below the knee


def humanoid(
    *,
    arm_drop: float = 0.0,
    fingers: bool = False,
    chibi: bool = False,
    skirt: bool = False,
    hair: bool = False,
    eyes: bool = False,
    hood: bool = False,
    long_hair: bool = False,
    touching: bool = False,
    shaped_shins: bool = False,
    thigh: float = 0.07,
    kneecaps: bool = False,
    x: float = 0.0,
) -> Figure:
    """A 1.7 m figure (or a 1.0 m chibi with a big head) with arms `arm_drop` degrees below horizontal; with
    `long_hair` a sheet of hair behind the back down to the waist, wider than the shoulders (it hides the
    armpits from behind); with `touching` thighs pressed together from the knees to the crotch; with
    `shaped_shins` each shin and foot one shaped surface (SHAPED_SHIN) instead of two capsules; with
    `kneecaps` a ball jutting out 2 cm before each knee (KNEECAP, its centre); `thigh`: the thighs' radius."""
    k = 0.6 if chibi else 1.0  # the chibi's body below the neck is shorter
    j: dict[str, Array] = {}
    shells: list[Shell] = []
    hip_z, knee_z, ankle_z = 0.88 * k, 0.48 * k, 0.08 * k
    shoulder_z = 1.40 * k
    neck_z, head_z = shoulder_z + 0.04, shoulder_z + 0.12  # the neck's base at the shoulders' top
    for s, side in ((1, "left"), (-1, "right")):
        hx = s * (0.065 if touching else 0.09)  # touching: the thighs' capsules overlap across the mid-line
        j[f"{side}UpperLeg"], j[f"{side}LowerLeg"], j[f"{side}Foot"] = (
            np.array([hx, 0, hip_z]), np.array([hx, 0, knee_z]), np.array([hx, 0, ankle_z]))  # fmt: skip
        shells.append(capsule((hx, 0, hip_z), (hx, 0, knee_z), thigh))
        shells += _shin_and_foot(hx, knee_z, ankle_z, shaped=shaped_shins)
        if kneecaps:
            shells.append(capsule((hx, KNEECAP[0], KNEECAP[1] * k), (hx, KNEECAP[0], KNEECAP[1] * k), 0.04))
        # The arm in T-pose, then turned down about the shoulder.
        sh = np.array([s * 0.17, 0, shoulder_z])
        elbow, wrist = sh + [s * 0.27 * k, 0, 0], sh + [s * 0.52 * k, 0, 0]
        knuckle = wrist + [s * 0.08, 0, 0]
        fore = elbow + 0.5 * (wrist - elbow)
        arm = [capsule(sh, elbow, 0.045), capsule(elbow, fore, 0.038), capsule(fore, wrist, 0.028)]
        # The palm, rounded ends included, reaches from the wrist past the knuckles to the webs.
        palm = capsule(wrist + [s * 0.045, 0, 0], knuckle + [s * (0.02 - 0.045), 0, 0], 0.045)
        arm.append(squashed(palm, wrist, (1, 1, 0.4)))
        if fingers:
            for dy in (-0.033, -0.011, 0.011, 0.033):
                arm.append(capsule(knuckle + [0, dy, 0], knuckle + [s * 0.08, dy, 0], 0.008))
            arm.append(capsule(wrist + [s * 0.03, -0.04, 0], wrist + [s * 0.07, -0.09, 0], 0.01))
        else:
            arm.append(squashed(capsule(knuckle, knuckle + [s * 0.07, 0, 0], 0.045), knuckle, (1, 1, 0.4)))
        drop = s * arm_drop
        shells += [(_turn_y(v, sh, drop), t) for v, t in arm]
        j[f"{side}UpperArm"], j[f"{side}LowerArm"], j[f"{side}Hand"] = (
            _turn_y(sh, sh, drop), _turn_y(elbow, sh, drop), _turn_y(wrist, sh, drop))  # fmt: skip
        if fingers:
            j[f"{side}MiddleProximal"] = _turn_y(knuckle + [0, -0.011, 0], sh, drop)
    pelvis_z = hip_z + 0.02
    pelvis = capsule((-0.09, 0, pelvis_z), (0.09, 0, pelvis_z), 0.06 + 0.04 * k)
    shells.append(squashed(pelvis, (0, 0, pelvis_z), (1, 0.9, 1)))
    # The torso's rounded ends stay above the pelvis and below the shoulders' tops; a shoulder girdle joins the
    # arms to it.
    shells.append(squashed(capsule((0, 0, pelvis_z + 0.12), (0, 0, shoulder_z - 0.12), 0.15), (0, 0, 0), (1, 0.7, 1)))
    shells.append(capsule((-0.17, 0, shoulder_z), (0.17, 0, shoulder_z), 0.05))
    shells.append(capsule((0, 0, neck_z - 0.06), (0, 0, head_z), 0.05))
    head_r = 0.2 if chibi else 0.1
    centre = np.array([0, -0.01, head_z + head_r * 0.9])
    shells.append(capsule(centre, centre, head_r))
    shells.append(capsule(centre + [0, -head_r, -0.2 * head_r], centre + [0, -head_r, -0.2 * head_r], 0.02))  # nose
    if hood:  # a hood lying back around the neck, in the body's own mesh
        shells.append(tube((0, 0.05, shoulder_z + 0.03), (0, 0.05, head_z + 0.25), 0.12, 0.16))
    j["hips"] = np.array([0, 0, hip_z])
    j["neck"], j["head"] = np.array([0, 0, neck_z]), np.array([0, 0, head_z])
    vertices, triangles = merged(shells)
    parts = [MeshPart("Body", vertices, triangles)]
    if skirt:
        parts.append(MeshPart("Skirt", *tube((0, 0, 0.50 * k), (0, 0, pelvis_z + 0.02), 0.26, 0.17)))
    if hair:
        v, t = squashed(capsule((0, 0.12, 0.95 * k), (0, 0.12, head_z + 2 * head_r), 0.13), (0, 0.12, 0), (1.1, 0.3, 1))
        parts.append(MeshPart("Hair", v, t))
    if long_hair:
        top = head_z + 2 * head_r
        v, t = squashed(capsule((0, 0.14, pelvis_z + 0.12), (0, 0.14, top), 0.26), (0, 0.14, 0), (1, 0.06, 1))
        parts.append(MeshPart("LongHair", v, t))
    if eyes:
        for s, name in ((1, "EyeL"), (-1, "EyeR")):
            c = centre + [s * 0.035 * head_r / 0.1, -0.85 * head_r, 0.1 * head_r]
            parts.append(MeshPart(name, *capsule(c, c, 0.012 * head_r / 0.1, n=10, m=4)))
            j["leftEye" if s > 0 else "rightEye"] = c
    figure = Figure(parts, j)
    return figure.transformed(_shift(x)) if x else figure


def _shin_and_foot(x: float, knee_z: float, ankle_z: float, *, shaped: bool) -> list[Shell]:
    """One shaped surface from the sole to the knee, or a capsule for the shin and one for the foot."""
    if shaped:
        return [loft(SHAPED_SHIN, x)]
    return [capsule((x, 0, knee_z), (x, 0, ankle_z), 0.05), capsule((x, 0.03, 0.04), (x, -0.15, 0.035), 0.04)]


def block(lo, hi) -> Shell:
    """A closed axis-aligned box from corner `lo` to corner `hi`, a shell of its own."""
    corners = np.array([[(lo, hi)[i >> k & 1][k] for k in range(3)] for i in range(8)], dtype=np.float64)
    quads = ((0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5))
    return corners, np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], dtype=np.int64)


def blocks(
    torso_from: float,
    legs_x: float = 0.09,
    *,
    toes: bool = True,
    robot: bool = False,
    fist: bool = False,
    hip_balls: bool = False,
) -> Figure:
    """A 1.7 m body of one box per bone, as game exporters and placeholder rigs make it: each leg's boxes
    (square, turned 45° about the vertical, as a box along a bone often is) reach up to its thigh's joint at
    0.88 m, `legs_x` from the mid-line (at 0.05 the legs' boxes overlap across it, at 0.12 a wide gap parts
    them as a skirt's hem would); the torso's box starts
    at `torso_from` (below 0.88 the legs' boxes reach into it; above, a gap parts the legs from it). Without
    `toes` the feet's boxes reach as far forward as back: nothing but the file's axes shows the front. A
    `robot`'s head is wider than its shoulders, and its arms are separate rounded parts, a gap from the torso
    and from each other: a long upper arm, a ball at the elbow, a short forearm, a flat hand; with `fist`, the
    forearm and a fist as wide are one part, with the thumb a part of its own on it, level with the wrist.
    With `hip_balls`, each thigh's box ends below its joint, where a ball centred on the joint sits on it."""
    j: dict[str, Array] = {}
    shells: list[Shell] = []
    for s, side in ((1, "left"), (-1, "right")):
        x = s * legs_x
        j[f"{side}UpperLeg"], j[f"{side}LowerLeg"], j[f"{side}Foot"] = (
            np.array([x, 0, 0.88]), np.array([x, 0, 0.48]), np.array([x, 0, 0.08]))  # fmt: skip
        if hip_balls:
            shells.append(capsule(j[f"{side}UpperLeg"], j[f"{side}UpperLeg"], 0.05))
        for lo, hi, r in ((0.48, 0.84 if hip_balls else 0.88, 0.06), (0.08, 0.48, 0.045)):
            v, t = block((-r, -r, lo), (r, r, hi))
            c = math.sqrt(0.5)
            shells.append((v @ np.array([[c, -c, 0], [c, c, 0], [0, 0, 1.0]]).T + [x, 0, 0], t))
        shells.append(block((x - 0.04, -0.16 if toes else -0.11, 0.0), (x + 0.04, 0.06 if toes else 0.11, 0.08)))
        if robot:
            at = [np.array([s * a, 0, 1.38]) for a in (0.30, 0.56, 0.63, 0.695, 0.765, 0.855, 0.895)]
            shells += [capsule(at[0], at[1], 0.04), capsule(at[2], at[2], 0.025)]
            # The joints where the parts meet: the gaps' middles, the elbow's ball's centre.
            j |= {f"{side}UpperArm": np.array([s * 0.25, 0, 1.38]), f"{side}LowerArm": at[2]}
            j[f"{side}Hand"] = np.array([s * 0.8025, 0, 1.38])
            if fist:
                shells.append(capsule(at[3], np.array([s * 0.95, 0, 1.38]), 0.035))
                shells.append(capsule(j[f"{side}Hand"] + [0, -0.04, 0], j[f"{side}Hand"] + [0, -0.07, 0.01], 0.012))
            else:
                shells.append(capsule(at[3], at[4], 0.035))
                shells.append(squashed(capsule(at[5], at[6], 0.05), at[5], (1, 1, 0.4)))
        else:
            shells.append(block((min(s * 0.24, s * 0.8), -0.04, 1.34), (max(s * 0.24, s * 0.8), 0.04, 1.42)))
            j[f"{side}UpperArm"] = np.array([s * 0.24, 0, 1.38])
    shells += [block((-0.24, -0.1, torso_from), (0.24, 0.1, 1.44)), block((-0.04, -0.04, 1.44), (0.04, 0.04, 1.5))]
    head = 0.4 if robot else 0.1
    shells.append(block((-head, -0.11, 1.5), (head, 0.11, 1.72)))
    return Figure([MeshPart("Body", *merged(shells))], j)


def _shift(x: float) -> Array:
    m = np.eye(4)
    m[0, 3] = x
    return m


def turn_z(degrees: float, scale: float = 1.0) -> Array:
    a = math.radians(degrees)
    m = np.eye(4)
    m[:2, :2] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    m[:3, :3] *= scale
    return m


def lying_down() -> Array:
    m = np.eye(4)
    m[1:3, 1:3] = [[0, -1], [1, 0]]
    return m


def table_on_legs(length: float, width: float, leg_height: float, *, back: bool = False) -> MeshPart:
    """A box top on four legs (a chair with `back`, or a quadruped's body)."""
    shells = [
        squashed(
            capsule((-length / 2, 0, leg_height), (length / 2, 0, leg_height), width / 2),
            (0, 0, leg_height),
            (1, 1, 0.3),
        )
    ]
    for sx in (-1, 1):
        for sy in (-1, 1):
            foot = (sx * length * 0.4, sy * width * 0.4, 0.0)
            shells.append(capsule(foot, (foot[0], foot[1], leg_height), 0.03))
    if back:
        shells.append(capsule((-length / 2, width / 2, leg_height), (-length / 2, width / 2, leg_height * 2.2), 0.04))
        shells.append(capsule((length / 2, width / 2, leg_height), (length / 2, width / 2, leg_height * 2.2), 0.04))
    return MeshPart("Object", *merged(shells))


def sheet(corner, u, v, n: tuple[int, int] = (12, 24)) -> Shell:
    """An open single-sided sheet (a cape, a coat's tail, a wing, a floor) from `corner` spanning the edges `u`
    and `v`, as an (n[0] x n[1]) grid of quads: fine enough that each triangle lies where its part does."""
    s, t = np.meshgrid(np.linspace(0, 1, n[0] + 1), np.linspace(0, 1, n[1] + 1), indexing="ij")
    vertices = np.asarray(corner, float) + s.reshape(-1, 1) * np.asarray(u, float) + t.reshape(-1, 1) * np.asarray(v)
    row = n[1] + 1
    quads = [(i * row + k, i * row + k + 1, (i + 1) * row + k + 1, (i + 1) * row + k)
             for i in range(n[0]) for k in range(n[1])]  # fmt: skip
    return vertices, np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], dtype=np.int64)
