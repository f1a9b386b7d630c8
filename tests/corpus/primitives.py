"""Models built from Blender's primitives for the auto-rig's tests: a never-rigged humanoid (one joined mesh,
arms at any angle, with separate eyes, teeth and glasses if asked) and things that are no standing humanoid."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import bpy
import numpy as np

from addon.blender import context

Point = tuple[float, float, float]


def box(center: Point, size: Point) -> None:
    bpy.ops.mesh.primitive_cube_add(location=center, scale=tuple(s / 2 for s in size))


def rod(a: Point, b: Point, radius: float) -> None:
    """A capped cylinder from a to b."""
    d = np.subtract(b, a)
    length = float(np.linalg.norm(d))
    pitch = math.acos(d[2] / length)
    yaw = math.atan2(d[1], d[0])
    mid = tuple(float(v) for v in (np.add(a, b) / 2))
    bpy.ops.mesh.primitive_cylinder_add(radius=radius, depth=length, location=mid, rotation=(0.0, pitch, yaw))


def person(x: float = 0.0, arms: float = 30.0, thighs: float = 0.09) -> None:
    """A 1.7 m standing figure, facing -Y, arms `arms` degrees below horizontal, from boxes and cylinders;
    the thighs `thighs` from the mid-line at the hips (their cylinders are 0.07 thick: under that they
    overlap from the knees to the crotch)."""
    box((x, 0, 1.2), (0.36, 0.2, 0.5))  # chest and belly
    box((x, 0, 0.9), (0.32, 0.18, 0.16))  # pelvis
    rod((x, 0, 1.44), (x, 0, 1.52), 0.05)  # neck
    box((x, 0, 1.61), (0.2, 0.22, 0.24))  # head
    down = math.radians(arms)
    for side in (1, -1):
        shoulder, elbow, wrist, hip, knee, ankle = ((x + side * p[0], p[1], p[2]) for p in joints(arms, thighs))
        rod(shoulder, elbow, 0.045)
        rod(elbow, wrist, 0.04)
        box((wrist[0] + side * 0.06 * math.cos(down), 0, wrist[2] - 0.06 * math.sin(down)), (0.12, 0.04, 0.09))  # hand
        rod(hip, knee, 0.07)  # thigh
        rod(knee, ankle, 0.055)  # shin
        box((ankle[0], -0.05, 0.035), (0.1, 0.24, 0.07))  # foot


def joints(arms: float = 30.0, thighs: float = 0.09) -> tuple[Point, ...]:
    """The left side's shoulder, elbow, wrist, hip, knee and ankle of `person` (the right is mirrored)."""
    down = math.radians(arms)
    shoulder = (0.2, 0.0, 1.4)
    elbow = (0.2 + 0.28 * math.cos(down), 0.0, 1.4 - 0.28 * math.sin(down))
    wrist = (0.2 + 0.54 * math.cos(down), 0.0, 1.4 - 0.54 * math.sin(down))
    return shoulder, elbow, wrist, (thighs, 0.0, 0.88), (thighs + 0.01, 0.0, 0.48), (0.1, 0.0, 0.07)


# The joints `person` places, by VRM humanoid bone: what the placement must find again.
JOINTS = ("UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot")


def touching() -> None:
    """Thighs pressed together from the knees to the crotch (their cylinders overlap across the mid-line)."""
    person(thighs=0.055)


def skirt() -> None:
    """An open skirt from the waist down to the knees, around both legs."""
    person()
    bpy.ops.mesh.primitive_cone_add(
        radius1=0.3, radius2=0.2, depth=0.45, end_fill_type="NOTHING", location=(0, 0, 0.5 + 0.45 / 2)
    )


def long_hair() -> None:
    """A sheet of hair behind the back from the top of the head to the waist, wider than the shoulders: from
    behind it hides the armpits."""
    person()
    box((0, 0.16, 1.34), (0.52, 0.03, 0.78))


def t_pose() -> None:
    person(arms=0.0)


def a_pose() -> None:
    person(arms=45.0)


# The separate meshes of `face_parts`, and the bone each must ride on.
FACE_PARTS = {"EyeLeft": "Eye.L", "EyeRight": "Eye.R", "Teeth": "Head", "Glasses": "Head"}


def face_parts() -> None:
    """Eyes (spheres in front of the head), teeth inside it and glasses in front of the eyes, each its own
    mesh object named as in FACE_PARTS, for `person()`'s head."""
    for name, side in (("EyeLeft", 1), ("EyeRight", -1)):
        bpy.ops.mesh.primitive_uv_sphere_add(radius=0.016, location=(side * 0.045, -0.112, 1.64))
        _name_added(name)
    box((0.0, -0.1, 1.56), (0.05, 0.01, 0.015))
    _name_added("Teeth")
    box((0.0, -0.135, 1.64), (0.16, 0.008, 0.04))
    _name_added("Glasses")


# A knee pad: a small closed box 1 cm in front of the left shin just below the knee (clear of the remeshed
# skin's surface), joined into the body's mesh as a shell of its own (bone heat would blend it between thigh
# and shin).
PAD_CENTER, PAD_SIZE = (0.1, -0.075, 0.4), (0.08, 0.02, 0.06)
# The separate hard meshes of `hard_parts`, and the bone each must ride on.
HARD_PARTS = {"Bracer": "LowerArm.L"}


def padded() -> None:
    """`person()` as one soft, watertight skin (voxel-remeshed: a body of separate boxes is a kit-bashed one,
    bound part by part), wearing a knee pad (PAD_CENTER, PAD_SIZE) as a shell of its own."""
    person()
    skin = join_meshes()
    remesh = skin.modifiers.new("Skin", "REMESH")
    assert isinstance(remesh, bpy.types.RemeshModifier)
    remesh.mode, remesh.voxel_size = "VOXEL", 0.012
    bpy.ops.object.modifier_apply(modifier=remesh.name)
    box(PAD_CENTER, PAD_SIZE)


def hard_parts() -> None:
    """`face_parts()`, and an armour plate (`Bracer`) lying on the left forearm of `person()`'s 30° A-pose."""
    face_parts()
    down = math.radians(30.0)
    middle = 0.2 + 0.41 * math.cos(down), 1.4 - 0.41 * math.sin(down)  # halfway from elbow to wrist
    box((middle[0], 0.0, middle[1] + 0.046), (0.08, 0.06, 0.012))
    _name_added("Bracer")


def join_meshes() -> bpy.types.Object:
    """Joins every mesh of the scene into one object (the join keeps the active one) and returns it."""
    objects = [o for o in context.scene().objects if o.type == "MESH"]
    for obj in objects:
        obj.select_set(True)
    context.view_layer().objects.active = objects[0]
    bpy.ops.object.join()
    return objects[0]


def _name_added(name: str) -> None:
    added = context.view_layer().objects.active  # an add operator makes its object the active one
    assert added is not None
    added.name = name


def chair() -> None:
    for cx in (-0.22, 0.22):
        for cy in (-0.22, 0.22):
            rod((cx, cy, 0.0), (cx, cy, 0.45), 0.025)
    box((0, 0, 0.47), (0.5, 0.5, 0.04))
    box((0, 0.23, 0.75), (0.5, 0.04, 0.56))


def quadruped() -> None:
    box((0, 0, 0.65), (0.3, 0.9, 0.3))  # body
    box((0, -0.55, 0.85), (0.2, 0.25, 0.2))  # head
    for cx in (-0.1, 0.1):
        for cy in (-0.35, 0.35):
            rod((cx, cy, 0.0), (cx, cy, 0.55), 0.04)


def pair() -> None:
    person(-0.5)
    person(0.5)


def lying() -> None:
    person()
    for obj in context.scene().objects:
        obj.select_set(True)
    bpy.ops.transform.rotate(value=math.radians(90), orient_axis="X", center_override=(0, 0, 0))


def floor() -> None:
    """A ground plane under the figure, an object of its own (as a whole scene exported with the avatar has it)."""
    bpy.ops.mesh.primitive_plane_add(size=4.0)
    _name_added("Floor")


def write_glb(build: Callable[[], None], path: Path, separate: Callable[[], None] | None = None) -> Path:
    """Builds a model from primitives, joined into one mesh (no armature), adds the meshes `separate`
    builds as objects of their own, and writes it as a .glb."""
    bpy.ops.wm.read_homefile(use_empty=True)
    build()
    joined = join_meshes()
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=True)
    joined.name = path.stem
    if separate is not None:
        separate()
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    return path
