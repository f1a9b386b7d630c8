"""The armature's actions carried over a change of its rest pose, so each plays as it did.

A pose bone's keys are relative to its rest and its parent: when a fix changes them (applies the pose as
rest, applies the armature object's scale, hangs a bone from another parent), every key would pose the
bone anew. The actions re-based are those that animate the armature: the one it plays,
those in its NLA strips (on Blender 4.4+ with the slot it plays them through), and any other action in the
file that no object plays whose bone channels all name bones of this armature (an importer brings each
take as an action and assigns one). Blender has no firmer link from an action to an armature. An action
another object plays too is left as it is, and the fix line says so: re-basing it would break it there.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import bpy
import mathutils
from bpy_extras import anim_utils

from . import context

# pose.bones["Name"].rotation_quaternion -> (Name, rotation_quaternion); animation_export reads clips with it too.
BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(\w+)$')
_ROTATION_PATH = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}
_SIZES = {"location": 3, "rotation_quaternion": 4, "rotation_axis_angle": 4, "rotation_euler": 3, "scale": 3}
_SAME = 1e-6  # a re-based channel this close to the bone's own value needs no new F-curve

# One bone's transform: location, rotation (as its rotation mode stores it), scale.
Channels = dict[str, tuple[float, ...]]


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def _rotation_path(bone: bpy.types.PoseBone) -> str:
    return _ROTATION_PATH.get(bone.rotation_mode, "rotation_euler")


def _stored(bone: bpy.types.PoseBone) -> Channels:
    """The bone's own values: what a channel no key drives holds."""
    path = _rotation_path(bone)
    return {"location": tuple(bone.location[:]), path: tuple(getattr(bone, path)[:]), "scale": tuple(bone.scale[:])}


@dataclass
class _Rest:
    """A bone's rest relative to its parent's (the armature's, for a root) and its length."""

    relative: mathutils.Matrix
    length: float
    parent: str | None
    connected: bool  # its location channels do nothing

    @classmethod
    def read(cls, bone: bpy.types.Bone) -> _Rest:
        parent = bone.parent
        relative = bone.matrix_local if parent is None else parent.matrix_local.inverted() @ bone.matrix_local
        return cls(relative.copy(), bone.length, parent.name if parent else None, bone.use_connect)


@dataclass
class _Target:
    """An action as one armature plays it: through one slot on Blender 4.4+, its F-curves otherwise."""

    action: bpy.types.Action
    slot: Any

    def bag(self) -> Any:
        """Where its F-curves live (None: it has none for the slot)."""
        if not hasattr(self.action, "layers"):  # before 4.4
            return self.action
        return anim_utils.action_get_channelbag_for_slot(self.action, self.slot)

    def curves(self) -> dict[tuple[str, str, int], Any]:
        """Its bone transform F-curves by (bone, property, index)."""
        bag = self.bag()
        found = {}
        for curve in bag.fcurves if bag is not None else ():
            match = BONE_PATH.match(curve.data_path)
            if match and match[2] in _SIZES:
                found[_unescape(match[1]), match[2], curve.array_index] = curve
        return found

    def new_curve(self, bone: str, path: str, index: int) -> Any:
        bag = self.bag()
        data_path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{path}'
        if not hasattr(self.action, "layers"):
            return bag.fcurves.new(data_path, index=index, action_group=bone)
        curve = bag.fcurves.new(data_path, index=index)
        curve.group = bag.groups.get(bone) or bag.groups.new(bone)
        return curve


def _played(obj: bpy.types.Object, *, muted: bool = True) -> list[_Target]:
    """The actions `obj` plays: its own and its NLA strips' (meta strips' too; a muted track's only if `muted`)."""
    data = obj.animation_data
    if data is None:
        return []
    found = [_Target(data.action, getattr(data, "action_slot", None))] if data.action else []

    def strips(items: Any) -> Iterator[Any]:
        for strip in items:
            yield strip
            yield from strips(strip.strips)

    for track in [t for t in data.nla_tracks if muted or not t.mute]:
        found += [_Target(s.action, getattr(s, "action_slot", None)) for s in strips(track.strips) if s.action]
    return found


def _key(target: _Target) -> tuple[str, str | None]:
    return target.action.name, target.slot.identifier if target.slot is not None else None


def _unplayed(armature: bpy.types.Object, played: set[tuple[str, str | None]]) -> list[_Target]:
    """Actions (per slot) no object plays whose bone channels all name bones of `armature`."""
    bones = set(armature.pose.bones.keys())  # type: ignore[union-attr]
    found = []
    for action in bpy.data.actions:
        slots = list(action.slots) if hasattr(action, "slots") else [None]
        for slot in slots:
            target = _Target(action, slot)
            named = {bone for bone, _, _ in target.curves()}
            if _key(target) not in played and named and named <= bones:
                found.append(target)
    return found


@dataclass
class _Actions:
    """The armature's actions and rest as they were before its rest changes."""

    armature: bpy.types.Object
    targets: list[_Target]
    shared: list[str]  # actions it plays that other objects play too
    placed: mathutils.Matrix  # its world matrix
    rests: dict[str, _Rest]
    stored: dict[str, Channels]

    @classmethod
    def read(cls, armature: bpy.types.Object) -> _Actions:
        users: dict[tuple[str, str | None], set[str]] = {}
        for obj in bpy.data.objects:
            for target in _played(obj):
                users.setdefault(_key(target), set()).add(obj.name)
        own = {_key(t): t for t in _played(armature) if t.slot is not None or not hasattr(t.action, "slots")}
        targets = [t for k, t in own.items() if users[k] == {armature.name}]
        shared = sorted({t.action.name for k, t in own.items() if users[k] != {armature.name}})
        data, pose = armature.data, armature.pose
        assert isinstance(data, bpy.types.Armature) and pose is not None
        return cls(
            armature,
            targets + _unplayed(armature, set(users)),
            shared,
            armature.matrix_world.copy(),
            {b.name: _Rest.read(b) for b in data.bones},
            {b.name: _stored(b) for b in pose.bones},
        )

    def unsure(self) -> list[str]:
        """Bones whose pose is not their keys on their parent's pose (constraints, drivers, a parent's
        rotation or scale not inherited): re-based keys may play differently there."""
        pose = self.armature.pose
        assert pose is not None
        data = self.armature.animation_data
        driven = {BONE_PATH.match(d.data_path) for d in data.drivers} if data is not None else set()
        names = {_unescape(m[1]) for m in driven if m}
        return sorted(
            b.name
            for b in pose.bones
            if b.name in names
            or any(c.enabled for c in b.constraints)
            or not b.bone.use_inherit_rotation
            or b.bone.inherit_scale != "FULL"
        )

    @contextlib.contextmanager
    def set_aside(self, exact: bool) -> Iterator[None]:
        """The armature's own action unassigned meanwhile when it will be re-based exactly: Blender then
        does not warn that the change destroys it (it would be untrue)."""
        data = self.armature.animation_data
        if not exact or data is None or data.action is None:
            yield
            return
        action, slot = data.action, getattr(data, "action_slot", None)
        data.action = None
        try:
            yield
        finally:
            data.action = action
            if slot is not None:
                data.action_slot = slot

    def rebase(self) -> list[str]:
        """Re-bases every target onto the armature's new rest; returns the names of those changed."""
        if not self.targets:  # most avatars carry no action: no rest to read
            return []
        data, pose = self.armature.data, self.armature.pose
        assert isinstance(data, bpy.types.Armature) and pose is not None
        now = {b.name: _Rest.read(b) for b in data.bones}
        stored = {b.name: _stored(b) for b in pose.bones}
        moved = self.armature.matrix_world.inverted() @ self.placed
        kept = [name for name in now if name in self.rests]
        rehung = {name for name in kept if now[name].parent != self.rests[name].parent}
        changes = {name: _change(self.rests, now, name, moved) for name in kept if name not in rehung}
        changed = set()
        for target in self.targets:
            curves = target.curves()
            if rehung and _Rehung(target, curves, pose, (self.rests, now), (self.stored, stored)).rebase(rehung):
                changed.add(target.action.name)
            for name, change in changes.items():
                own = {(path, i): c for (b, path, i), c in curves.items() if b == name and path in stored[name]}
                if change is None or not own:
                    continue
                bone = pose.bones[name]
                _BoneKeys(target, name, own, self.stored[name], stored[name]).rebase(
                    change, _rotation_path(bone), bone.rotation_mode
                )
                changed.add(target.action.name)
        return sorted(changed)


@dataclass
class _Change:
    """basis' = map @ basis @ Scale(own): the keys that pose a bone as before on its new rest; `scale` is
    what the scale channel is multiplied by (own and the map's)."""

    map: mathutils.Matrix
    turn: mathutils.Quaternion
    scale: float


def _change(before: dict[str, _Rest], after: dict[str, _Rest], name: str, moved: mathutils.Matrix) -> _Change | None:
    """How the bone's keys change, or None when its rest did not. Blender's rests are rigid: a pose's scale
    applied as rest (or the object's) goes into the bones' lengths and offsets. With k = old length / new
    length, a bone posed P'(t) = M·P(t)·k in the new armature space (M: the old armature space in the new
    one, `moved`) is where it was, its frame as long as it was; on its parent's, P'·k_parent, that is
    basis' = B⁻¹·X·A·basis·k for a rest relative to the (same) parent from A to B, X = k_parent⁻¹ (M for a
    root)."""
    old, new = before[name], after[name]
    parent = moved
    if new.parent is not None:
        parent = mathutils.Matrix.Scale(after[new.parent].length / before[new.parent].length, 4)
    mapping = new.relative.inverted() @ parent @ old.relative
    scale = mapping.to_3x3().determinant() ** (1 / 3) * old.length / new.length
    if abs(scale - 1.0) < 1e-9 and _near(mapping, mathutils.Matrix.Identity(4)):
        return None
    return _Change(mapping, mapping.to_3x3().normalized().to_quaternion(), scale)


def _near(a: mathutils.Matrix, b: mathutils.Matrix) -> bool:
    return all(abs(a[i][j] - b[i][j]) < 1e-9 for i in range(len(a)) for j in range(len(a[0])))


def _quaternion(path: str, values: tuple[float, ...], mode: str) -> mathutils.Quaternion:
    if path == "rotation_quaternion":
        return mathutils.Quaternion(values)
    if path == "rotation_axis_angle":
        return mathutils.Quaternion(values[1:], values[0])
    return mathutils.Euler(values, mode).to_quaternion()


def _rotation(
    path: str, turn: mathutils.Quaternion, mode: str, previous: tuple[float, ...] | None
) -> tuple[float, ...]:
    """`turn` as the channel stores it, continuous with the previous key (no flip of sign, axis or a whole
    turn between two keys)."""
    if path == "rotation_quaternion":
        if previous is not None and turn.dot(mathutils.Quaternion(previous)) < 0.0:
            turn.negate()
        return (turn.w, turn.x, turn.y, turn.z)
    if path == "rotation_axis_angle":
        axis, angle = turn.to_axis_angle()
        if previous is not None and axis.dot(mathutils.Vector(previous[1:])) < 0.0:
            axis, angle = -axis, -angle
        return (angle, axis.x, axis.y, axis.z)
    euler = turn.to_euler(mode, mathutils.Euler(previous, mode)) if previous is not None else turn.to_euler(mode)
    return (euler.x, euler.y, euler.z)


@dataclass
class _BoneKeys:
    """One bone's transform F-curves in one action, and its own values before and after the rest changed."""

    target: _Target
    bone: str
    curves: dict[tuple[str, int], Any]
    before: Channels
    after: Channels

    def rebase(self, change: _Change, rotation: str, mode: str) -> None:
        """Location maps to location, rotation to rotation and scale to scale, so each is rewritten alone
        and only when the change touches it. A scale (the scale, or the location under a rest grown or
        shrunk) multiplies keys and handles, exact between keys too; a turn or move is sampled at the union
        of the channels' key frames and keyed anew there, each key with the interpolation of the one it
        replaces: between keys the new curves interpolate, close to the old motion, not the same."""
        self.scale("scale", change.scale)
        factor = change.map[0][0]
        if _near(change.map, mathutils.Matrix.Scale(factor, 4)):
            self.scale("location", factor)
        else:
            self.rewrite("location", lambda v: tuple((change.map @ mathutils.Vector(v))[:]))
        if abs(abs(change.turn.w) - 1.0) > 1e-9:
            previous: tuple[float, ...] | None = None

            def turned(values: tuple[float, ...]) -> tuple[float, ...]:
                nonlocal previous
                previous = _rotation(rotation, change.turn @ _quaternion(rotation, values, mode), mode, previous)
                return previous

            self.rewrite(rotation, turned)

    def scale(self, path: str, factor: float) -> None:
        """Multiplies the channels of `path` by `factor`; a channel without keys gets a constant key when its
        value then differs from the bone's own."""
        if abs(factor - 1.0) < 1e-9:
            return
        start = min(k.co[0] for c in self.curves.values() for k in c.keyframe_points)
        for i in range(3):
            curve = self.curves.get((path, i))
            if curve is None:
                if abs(self.before[path][i] * factor - self.after[path][i]) > _SAME:
                    _write(self.target.new_curve(self.bone, path, i), {}, [(start, self.before[path][i] * factor)])
                continue
            for key in curve.keyframe_points:
                key.co[1] *= factor
                key.handle_left[1] *= factor
                key.handle_right[1] *= factor
            curve.update()

    def rewrite(self, path: str, change: Callable[[tuple[float, ...]], tuple[float, ...]]) -> None:
        """Samples the channels of `path` at the union of their key frames (one without keys holds the bone's
        value before), changes each sample and keys them anew; a channel without keys gets some only when
        its new values differ from the bone's own."""
        size = _SIZES[path]
        keyed = {i: self.curves[path, i] for i in range(size) if (path, i) in self.curves}
        frames = sorted({k.co[0] for c in keyed.values() for k in c.keyframe_points})
        held = self.before[path]
        samples = [change(tuple(keyed[i].evaluate(t) if i in keyed else held[i] for i in range(size))) for t in frames]
        kinds = {k.co[0]: str(k.interpolation) for c in reversed(keyed.values()) for k in c.keyframe_points}
        for i in range(size):
            column = [v[i] for v in samples]
            curve = keyed.get(i)
            if curve is None:
                if all(abs(v - self.after[path][i]) < _SAME for v in column):
                    continue
                curve = self.target.new_curve(self.bone, path, i)
            own = {k.co[0]: str(k.interpolation) for k in curve.keyframe_points}
            _write(curve, {**kinds, **own}, list(zip(frames, column, strict=True)))


@dataclass
class _Rehung:
    """An action's keys for bones hung from another parent, their rests (and lengths) kept, as reparenting
    does. A bone's keys then depend on both parents' poses, frame by frame."""

    target: _Target
    curves: dict[tuple[str, str, int], Any]
    pose: bpy.types.Pose
    rests: tuple[dict[str, _Rest], dict[str, _Rest]]  # before, after
    stored: tuple[dict[str, Channels], dict[str, Channels]]

    def basis(self, name: str, t: float, stored: Channels, rest: _Rest) -> mathutils.Matrix:
        """The bone's basis at `t` from the keys (a channel without keys holds `stored`)."""
        rotation, mode = _rotation_path(self.pose.bones[name]), self.pose.bones[name].rotation_mode
        values = {
            path: tuple(
                self.curves[name, path, i].evaluate(t) if (name, path, i) in self.curves else stored[path][i]
                for i in range(_SIZES[path])
            )
            for path in ("location", rotation, "scale")
        }
        location = (0.0, 0.0, 0.0) if rest.connected else values["location"]
        turn = _quaternion(rotation, values[rotation], mode).normalized()
        return mathutils.Matrix.LocRotScale(location, turn, values["scale"])

    def posed(self, t: float, which: int, rehung: dict[str, mathutils.Matrix]) -> dict[str, mathutils.Matrix]:
        """Every bone's pose in armature space at `t` (constraints not evaluated) on the rests `which`
        (0 before, 1 after); a bone in `rehung` is posed there, its basis then solved into `rehung`."""
        rests, stored = self.rests[which], self.stored[which]
        posed: dict[str, mathutils.Matrix] = {}

        def pose_of(name: str) -> mathutils.Matrix:
            if name not in posed:
                rest = rests[name]
                parent = mathutils.Matrix.Identity(4) if rest.parent is None else pose_of(rest.parent)
                if name in rehung:
                    posed[name] = rehung[name]
                    rehung[name] = (parent @ rest.relative).inverted() @ rehung[name]
                else:
                    posed[name] = parent @ rest.relative @ self.basis(name, t, stored[name], rest)
            return posed[name]

        for name in rests:
            pose_of(name)
        return posed

    def rebase(self, names: set[str]) -> bool:
        """Keys each bone of `names` at every key frame of the action so it is posed where it was; returns
        whether any channel was written. Between keys the new curves interpolate, close to the old motion."""
        frames = sorted({k.co[0] for c in self.curves.values() for k in c.keyframe_points})
        kinds = {k.co[0]: str(k.interpolation) for c in self.curves.values() for k in c.keyframe_points}
        wanted: dict[str, list[mathutils.Matrix]] = {name: [] for name in names}
        for t in frames:
            before = self.posed(t, 0, {})
            solved = {name: before[name] for name in names}
            self.posed(t, 1, solved)
            for name in names:
                wanted[name].append(solved[name])
        written = False
        for name in sorted(names):
            written |= self.write(name, frames, kinds, wanted[name])
        return written

    def write(self, name: str, frames: list[float], kinds: dict[float, str], bases: list[mathutils.Matrix]) -> bool:
        bone = self.pose.bones[name]
        rotation, mode = _rotation_path(bone), bone.rotation_mode
        after = self.stored[1][name]
        columns: dict[str, list[tuple[float, ...]]] = {"location": [], rotation: [], "scale": []}
        previous: tuple[float, ...] | None = None
        for basis in bases:
            location, turn, scale = basis.decompose()
            previous = _rotation(rotation, turn, mode, previous)
            columns["location"].append((location.x, location.y, location.z))
            columns[rotation].append(previous)
            columns["scale"].append((scale.x, scale.y, scale.z))
        written = False
        for path, values in columns.items():
            for i in range(_SIZES[path]):
                column = [v[i] for v in values]
                curve = self.curves.get((name, path, i))
                if curve is None:
                    if all(abs(v - after[path][i]) < _SAME for v in column):
                        continue
                    curve = self.target.new_curve(name, path, i)
                _write(curve, kinds, list(zip(frames, column, strict=True)))
                written = True
        return written


def _write(curve: Any, kinds: dict[float, str], keys: list[tuple[float, float]]) -> None:
    curve.keyframe_points.clear()
    for t, v in keys:
        curve.keyframe_points.insert(t, v, options={"FAST"}).interpolation = kinds.get(t, "BEZIER")
    curve.update()


@contextlib.contextmanager
def kept(armature: bpy.types.Object) -> Iterator[list[str]]:
    """Around a change of the armature's rest pose (or of its object's transform, applied): re-bases its
    actions onto the new rest afterwards. Yields the list that then holds what to add to the fix line: which
    actions, and where they may still play differently."""
    actions = _Actions.read(armature)
    unsure = actions.unsure() if actions.targets else []
    said: list[str] = []
    with actions.set_aside(exact=not unsure and not actions.shared):
        yield said
    rebased = actions.rebase()
    if rebased:
        said.append(f"re-based {len(rebased)} action(s) to the new rest pose: {', '.join(rebased)}")
    if rebased and unsure:
        more = f" and {len(unsure) - 8} more" if len(unsure) > 8 else ""
        said.append(
            f"constraints, drivers or partial inheritance on {', '.join(unsure[:8])}{more} may make them play "
            "differently"
        )
    if actions.shared:
        other = f"other objects play them: they now pose '{armature.name}' differently"
        said.append(f"left {', '.join(actions.shared)} as they were ({other})")


# Each transform channel's value at rest (what the bone's rest matrix alone gives).
_AT_REST = {
    "location": (0.0, 0.0, 0.0),
    "rotation_quaternion": (1.0, 0.0, 0.0, 0.0),
    "rotation_axis_angle": (0.0, 0.0, 1.0, 0.0),
    "rotation_euler": (0.0, 0.0, 0.0),
    "scale": (1.0, 1.0, 1.0),
}


def stop_playing(armature: bpy.types.Object) -> list[str]:
    """Takes off `armature` the actions it plays (its own; its NLA tracks muted) and puts each bone channel
    they animate back to its rest: an importer assigns one of the file's takes, and its current frame is
    not the model's bind pose. Channels no action animates keep the importer's pose (a unit scale carried
    on pose bones). The actions stay in the file. Returns the names of the actions it took off."""
    played = _played(armature, muted=False)
    data = armature.animation_data
    if data is None or not played:
        return []
    bones = armature.pose.bones  # type: ignore[union-attr]
    for target in played:
        for name, path, index in target.curves():
            if name in bones:
                getattr(bones[name], path)[index] = _AT_REST[path][index]
    data.action = None
    for track in data.nla_tracks:
        track.mute = True
    context.view_layer().update()
    return sorted({t.action.name for t in played})
