"""The structural fix's plan: bones to add and reparent (rest positions unchanged) after which every required
VRM bone maps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from ..model import BoneTable, FloatArray
from .solver import REQUIRED, along_forearm, solve


@dataclass(frozen=True)
class NewBone:
    """A bone the structural fix adds, in armature space; it has no weights, so it deforms nothing itself."""

    name: str
    parent: str
    head: tuple[float, float, float]
    tail: tuple[float, float, float]


_FOREARM_WORD: Final = re.compile(r"fore_?arm|lower_?arm|elbow", re.IGNORECASE)


def _hand_bone(bones: BoneTable, vrm_hand: str, forearm: str, parts: list[str]) -> NewBone:
    """The hand bone for a forearm without one: from the wrist (the forearm's tail, or where its first
    part starts when the tail stops short of it) toward the parts; named like the forearm."""
    f = bones.index[forearm]
    idx = [bones.index[p] for p in parts]
    axis, reach = along_forearm(bones, f, idx)
    first = float(reach.min())
    tail_reach = float((bones.tails[f] - bones.heads[f]) @ axis)
    at_tail = 0.5 * first <= tail_reach <= first
    wrist = tail_reach if at_tail else first
    head = bones.tails[f] if at_tail else bones.heads[f] + axis * first
    tail = head + axis * max(float(reach.mean()) - wrist, 0.25 * wrist)
    match = _FOREARM_WORD.search(forearm)
    word = "hand" if match is not None and match.group()[0].islower() else "Hand"
    side = "L" if vrm_hand.startswith("left") else "R"
    derived = [_FOREARM_WORD.sub(word, forearm, count=1)] if match is not None else []
    candidates = [*derived, f"{word}.{side}", *(f"{word}.{side}.{n:03d}" for n in range(1, 1000))]
    name = next(c for c in candidates if c not in bones.index)
    return NewBone(name, forearm, _point(head), _point(tail))


def _point(v: FloatArray) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def with_bone(bones: BoneTable, new: NewBone) -> BoneTable:
    """The table with `new` added last (a deform bone: the mapper may pick it)."""
    return BoneTable(
        [*bones.names, new.name],
        [*bones.parents, bones.index[new.parent]],
        np.vstack([bones.heads, new.head]),
        np.vstack([bones.tails, new.tail]),
        np.append(bones.deform, True),
    )


def reparented(bones: BoneTable, changes: Mapping[str, str]) -> BoneTable:
    """The table with each bone of `changes` hanging from its new parent, parents still before children."""
    parent = {n: (changes.get(n) or bones.parent_of(n)) for n in bones.names}
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        if parent[name] is not None:
            place(str(parent[name]))
        placed.add(name)
        order.append(name)

    for name in bones.names:
        place(name)
    idx = [bones.index[n] for n in order]
    where = {n: k for k, n in enumerate(order)}
    parents = [where[p] if (p := parent[n]) is not None else -1 for n in order]
    return BoneTable(order, parents, bones.heads[idx], bones.tails[idx], bones.deform[idx])


def _rigify_twins(bones: BoneTable) -> dict[str, str]:
    """Rigify hangs its DEF- bones from ORG- bones; the deform skeleton is whole when each DEF- bone hangs
    from the DEF- twin of its nearest ORG- ancestor instead (constraints still drive them: the pose is
    unchanged)."""
    changes: dict[str, str] = {}
    for name in bones.names:
        parent = bones.parent_of(name)
        if not name.startswith("DEF-") or parent is None or parent.startswith("DEF-"):
            continue
        while parent is not None:
            twin = "DEF-" + parent.removeprefix("ORG-")
            if parent.startswith("ORG-") and twin in bones.index and twin != name:
                if not bones.is_ancestor(name, twin):
                    changes[name] = twin
                break
            parent = bones.parent_of(parent)
    return changes


@dataclass
class Restructure:
    """A skeleton change that keeps every rest position: bones to add (first), then bones to reparent."""

    added: list[NewBone] = field(default_factory=list)
    reparent: dict[str, str] = field(default_factory=dict)

    def applied(self, bones: BoneTable) -> BoneTable:
        """The table as it is once this change is made."""
        for new in self.added:
            bones = with_bone(bones, new)
        return reparented(bones, self.reparent)

    def describe(self, limit: int = 8) -> str:
        steps = [f"insert '{b.name}' at the end of '{b.parent}'" for b in self.added]
        steps += [f"reparent '{b}' under '{p}'" for b, p in self.reparent.items()]
        return ", ".join(steps[:limit]) + (f" and {len(steps) - limit} more" if len(steps) > limit else "")


def restructure(
    bones: BoneTable,
    current: Mapping[str, str] | None = None,
    required: frozenset[str] = REQUIRED,
    carrying: frozenset[str] = frozenset(),
) -> Restructure | None:
    """The bones to add and reparent after which every `required` VRM bone maps, rest positions unchanged;
    None when no such change makes this skeleton a VRM humanoid. Reparents mend limbs hanging elsewhere (a
    foot beside the IK controls under the root: moved only when it carries geometry, when `carrying` is
    known); a hand bone is inserted where a forearm's palms and fingers branch off it directly."""
    plan = Restructure(reparent=_rigify_twins(bones))
    table = reparented(bones, plan.reparent) if plan.reparent else bones
    for _ in range(len(required)):
        result = solve(table, current, required, carrying)
        if not result.reasons:
            return plan if plan.added or plan.reparent else None
        if not result.misplaced and not result.handless:
            return None
        step = dict(result.misplaced.values())
        for vrm, (forearm, parts) in result.handless.items():
            new = _hand_bone(table, vrm, forearm, parts)
            plan.added.append(new)
            table = with_bone(table, new)
            step |= dict.fromkeys(parts, new.name)
        plan.reparent |= step
        table = reparented(table, step)
    return None
