"""The solver: one mapping that satisfies VRM's hierarchy as a whole, and why a required bone is unmapped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from .. import humanoid
from ..model import BoneTable, FloatArray
from .exclusion import exclusions
from .names import FINGER_SEGMENTS, name_evidence
from .structure import map_by_structure, reduced

_LEG: Final = ("UpperLeg", "LowerLeg", "Foot", "Toes")
_ARM: Final = ("Shoulder", "UpperArm", "LowerArm", "Hand")
_TORSO: Final = ("spine", "chest", "upperChest", "neck", "head")
REQUIRED: Final = humanoid.REQUIRED_VRM1
_STRUCTURE_STRENGTH: Final = 0.5  # the hierarchy's guess counts below any name


@dataclass
class MappingResult:
    """The effective mapping: VRM bone -> Blender bone, the entries found automatically (the rest were set by
    hand), and for each required VRM bone left unmapped, why (root causes first)."""

    mapping: dict[str, str]
    auto: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    # VRM bone -> (the bone that would be it, the bone it should hang from): what a reparent could mend.
    misplaced: dict[str, tuple[str, str]] = field(default_factory=dict)
    # VRM hand -> (the forearm, the bones branching off its end): a hand bone inserted there would mend it.
    handless: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


class _Solver:
    def __init__(self, bones: BoneTable, fixed: dict[str, int], carrying: frozenset[str]) -> None:
        self.bones = bones
        self.fixed = fixed
        self.carrying = carrying
        # A bone that carries geometry is a body part, whatever its deform flag says.
        self.why = [
            None if w == "a bone that does not deform" and n in carrying else w
            for n, w in zip(bones.names, exclusions(bones), strict=True)
        ]
        keep = [w is None for w in self.why]
        if not any(keep[i] and self.bones.deform[i] for i in range(len(bones))):
            keep = [w is None or w == "a bone that does not deform" for w in self.why]
        self.eligible = [k and i not in fixed.values() for i, k in enumerate(keep)]
        self.ancestors = self._ancestors()
        self.evidence = name_evidence(bones, [i for i, e in enumerate(self.eligible) if e])
        self._add_structure(keep)

    def _ancestors(self) -> list[frozenset[int]]:
        out: list[frozenset[int]] = []
        for p in self.bones.parents:  # parents come before children
            out.append(frozenset() if p < 0 else out[p] | {p})
        return out

    def _add_structure(self, keep: list[bool]) -> None:
        table, old = reduced(self.bones, keep)
        named = {i for found in self.evidence.values() for _, i in found}
        for vrm, name in map_by_structure(table).items():
            i = old[table.index[name]]
            # Only for bones whose names say nothing: a named bone is never taken for another one.
            if self.eligible[i] and i not in named:
                self.evidence.setdefault(vrm, []).append((_STRUCTURE_STRENGTH * 10, i))

    def below(self, ancestor: int | None, i: int) -> bool:
        return ancestor is None or ancestor in self.ancestors[i]

    def fit(self, slots: list[str], anchor: int | None, used: set[int]) -> dict[str, int]:
        """The best assignment of `slots` (a chain, top first), each below the previous one and `anchor`:
        most required bones, then most bones, then the strongest names; ties to the first found."""
        best: tuple[tuple[int, int, float], dict[str, int]] = ((-1, -1, 0.0), {})

        def walk(k: int, prev: int | None, acc: dict[str, int], req: int, score: float) -> None:
            nonlocal best
            if k == len(slots):
                key = (req, len(acc), score)
                if key > best[0]:
                    best = (key, dict(acc))
                return
            vrm = slots[k]
            if vrm in self.fixed:
                acc[vrm] = self.fixed[vrm]
                walk(k + 1, self.fixed[vrm], acc, req + (vrm in REQUIRED), score)
                del acc[vrm]
                return
            for s, i in self.evidence.get(vrm, []):
                if i in used or i in acc.values() or not self.below(prev, i):
                    continue
                acc[vrm] = i
                walk(k + 1, i, acc, req + (vrm in REQUIRED), score + s)
                del acc[vrm]
            walk(k + 1, prev, acc, req, score)

        walk(0, anchor, {}, 0, 0.0)
        return best[1]

    def build(self, hips: int | None) -> dict[str, int]:
        m: dict[str, int] = {} if hips is None else {"hips": hips}
        used = set(m.values())

        def take(found: dict[str, int]) -> None:
            m.update(found)
            used.update(found.values())

        for side in ("left", "right"):
            take(self.fit([side + s for s in _LEG], hips, used))
        torso = self.fit(list(_TORSO), hips, used)
        arms, torso = self._arms(torso, hips, used)
        take(torso)
        take(arms)
        for side in ("left", "right"):
            hand = m.get(side + "Hand")
            if hand is None:
                continue
            for finger, segments in FINGER_SEGMENTS.items():
                take(self.fit([side + finger + s for s in segments], hand, used))
        if "head" in m:
            for vrm in ("leftEye", "rightEye", "jaw"):
                take(self.fit([vrm], m["head"], used))
        return m

    def _arms(self, torso: dict[str, int], hips: int | None, used: set[int]) -> tuple[dict[str, int], dict[str, int]]:
        """Arms below the top of the torso; when they branch off lower down (a chest mapped above the
        shoulders), the torso is cut back to where they branch."""
        best: tuple[tuple[int, int], dict[str, int], dict[str, int]] = ((-1, -1), {}, torso)
        for drop in ((), ("upperChest",), ("upperChest", "chest")):
            if any(d in self.fixed for d in drop):
                continue
            kept = {k: v for k, v in torso.items() if k not in drop}
            anchor = next((kept[t] for t in ("upperChest", "chest", "spine") if t in kept), hips)
            taken = used | set(kept.values())
            arms: dict[str, int] = {}
            for side in ("left", "right"):
                arms.update(self.fit([side + s for s in _ARM], anchor, taken | set(arms.values())))
            key = (sum(v in REQUIRED for v in arms), len(arms))
            if key > best[0]:
                best = (key, arms, kept)
        return best[1], best[2]

    def hips_candidates(self) -> list[int | None]:
        if "hips" in self.fixed:
            return [self.fixed["hips"]]
        found = [i for _, i in self.evidence.get("hips", [])]
        tops = [self._first(f"{side}UpperLeg") for side in ("left", "right")] + [self._first("spine")]
        if all(t is not None for t in tops):
            lca = self._common_ancestor([t for t in tops if t is not None])
            if lca is not None and lca not in found:
                found.append(lca)
        # A root bone at the feet is never the hips, even when everything hangs from it.
        plausible = [h for h in found if self._plausible_hips(h)]
        chosen: list[int | None] = list((plausible or found)[:6])
        return chosen or [None]

    def _first(self, vrm: str) -> int | None:
        found = self.evidence.get(vrm)
        return found[0][1] if found else None

    def _common_ancestor(self, bones: list[int]) -> int | None:
        shared = frozenset.intersection(*(self.ancestors[b] | {b} for b in bones))
        eligible = [a for a in shared if self.eligible[a]]
        return max(eligible, key=lambda a: len(self.ancestors[a])) if eligible else None

    def _plausible_hips(self, hips: int) -> bool:
        """The hips sit nearer the tops of the legs than the feet (a root bone at the feet does not)."""
        head = self.bones.heads[hips]
        for side in ("left", "right"):
            top, foot = self._first(f"{side}UpperLeg"), self._first(f"{side}Foot")
            if top is None or foot is None:
                continue
            near = float(np.linalg.norm(self.bones.heads[top] - head))
            if near >= float(np.linalg.norm(self.bones.heads[foot] - head)):
                return False
        return True


def _score(m: dict[str, int]) -> tuple[int, int]:
    return (sum(v in REQUIRED for v in m), len(m))


def solve(
    bones: BoneTable,
    current: Mapping[str, str] | None = None,
    required: frozenset[str] = REQUIRED,
    carrying: frozenset[str] = frozenset(),
) -> MappingResult:
    """The mapping the check and the export use: `current` (set by hand; kept even when wrong, the check
    reports it), then every other VRM bone found, the hierarchy satisfied as a whole. `reasons` covers the
    `required` bones (VRM 0.x also requires chest and neck). `carrying`: the bones that carry geometry
    (skin weights or rigid parts), when known."""
    hand = {vrm: name for vrm, name in (current or {}).items() if name in bones.index and vrm in humanoid.PARENT}
    solver = _Solver(bones, {vrm: bones.index[name] for vrm, name in hand.items()}, carrying)
    best: dict[str, int] = {}
    for hips in solver.hips_candidates():
        found = solver.build(hips)
        if _score(found) > _score(best) or not best:
            best = found
    mapping = {vrm: bones.names[best[vrm]] for vrm in humanoid.HUMAN_BONES if vrm in best}
    auto = [vrm for vrm in mapping if vrm not in hand]
    result = MappingResult(mapping, auto)
    _explain(solver, best, required, result)
    return result


def _explain(solver: _Solver, found: dict[str, int], required: frozenset[str], result: MappingResult) -> None:
    """Why each required VRM bone is unmapped; a bone whose VRM parent is itself unmapped is left out (its
    parent's reason is the root cause)."""
    bones = solver.bones
    everything = name_evidence(bones, rig_bones_too=True)
    for vrm in humanoid.HUMAN_BONES:
        if vrm not in required or vrm in found:
            continue
        parent_vrm = humanoid.PARENT[vrm]
        if parent_vrm is not None and parent_vrm in required and parent_vrm not in found:
            continue
        anchor_vrm = humanoid.mapped_parent(vrm, frozenset(found))
        anchor = found.get(anchor_vrm) if anchor_vrm else None
        result.reasons[vrm] = _reason(solver, everything.get(vrm, []), anchor_vrm, anchor, found)
        misplaced = _misplaced(solver, everything.get(vrm, []), anchor, found)
        if misplaced is not None:
            result.misplaced[vrm] = misplaced
        elif vrm.endswith("Hand") and anchor_vrm == vrm.replace("Hand", "LowerArm") and anchor is not None:
            parts = hand_parts(bones, anchor)
            if parts:
                names = [bones.names[p] for p in parts]
                shown = ", ".join(f"'{n}'" for n in names)
                result.reasons[vrm] = f"no hand bone: {shown} branch straight off the forearm '{bones.names[anchor]}'"
                result.handless[vrm] = (bones.names[anchor], names)


def _reason(
    solver: _Solver, named: list[tuple[float, int]], anchor_vrm: str | None, anchor: int | None, found: dict[str, int]
) -> str:
    bones = solver.bones
    used = set(found.values())
    where = f"{anchor_vrm} '{bones.names[anchor]}'" if anchor is not None and anchor_vrm else "the hips"
    if anchor_vrm == "hips" and anchor is not None:
        where = f"the hips bone '{bones.names[anchor]}'"
    for _, i in named:
        name = bones.names[i]
        if i in used:
            continue
        if solver.why[i] is not None and solver.why[i] != "a bone that does not deform":
            outside = "" if solver.below(anchor, i) else f", outside the chain below {where}"
            return f"'{name}' is {solver.why[i]}{outside}"
        if not solver.below(anchor, i):
            parent = bones.parent_of(name)
            return f"'{name}' hangs from '{parent}', not from {where}" if parent else f"'{name}' is not below {where}"
        if solver.why[i] is not None:
            return f"'{name}' is {solver.why[i]}"
    if anchor is None:
        return "no bone is named like it"
    return f"no bone found under '{bones.names[anchor]}'"


def _misplaced(
    solver: _Solver, named: list[tuple[float, int]], anchor: int | None, found: dict[str, int]
) -> tuple[str, str] | None:
    """The best-named mappable bone outside the chain below `anchor`, and `anchor`: a reparent mends it."""
    if anchor is None:
        return None
    for _, i in named:
        if i in found.values() or not solver.eligible[i] or solver.below(anchor, i):
            continue
        if i in solver.ancestors[anchor]:  # reparenting an ancestor below its descendant is a cycle
            continue
        if solver.carrying and not _carries(solver, i):  # a control beside the body, not a body part
            continue
        return solver.bones.names[i], solver.bones.names[anchor]
    return None


def _carries(solver: _Solver, i: int) -> bool:
    """Whether bone `i` or a bone below it carries geometry."""
    names = solver.bones.names
    return any(names[j] in solver.carrying for j in range(len(names)) if j == i or i in solver.ancestors[j])


# A forearm's children that start this far along it (in forearm lengths) are the hand's parts, not twist bones.
_HAND_REACH: Final = 0.6


def along_forearm(bones: BoneTable, forearm: int, parts: list[int]) -> tuple[FloatArray, FloatArray]:
    """The forearm's direction (its head toward the parts' heads) and how far along it each part starts."""
    head = bones.heads[forearm]
    axis = bones.heads[parts].mean(axis=0) - head
    axis = axis / max(float(np.linalg.norm(axis)), 1e-12)
    return axis, (bones.heads[parts] - head) @ axis


def hand_parts(bones: BoneTable, forearm: int) -> list[int]:
    """The bones branching off the end of a forearm that has no hand bone (palms, fingers, a thumb): two or
    more children starting past most of its length. Its length is its own, or its parent's (the upper arm)
    where an importer gave the bone a token length."""
    kids = [c for c, p in enumerate(bones.parents) if p == forearm]
    if len(kids) < 2:
        return []
    head = bones.heads[forearm]
    parent = bones.parents[forearm]
    length = max(
        float(np.linalg.norm(bones.tails[forearm] - head)),
        float(np.linalg.norm(head - bones.heads[parent])) if parent >= 0 else 0.0,
    )
    _, reach = along_forearm(bones, forearm, kids)
    parts = [k for k, t in zip(kids, reach.tolist(), strict=True) if length > 0.0 and t >= _HAND_REACH * length]
    return parts if len(parts) >= 2 else []
