"""The hierarchy alone: a mapping from the bones' shape and parentage, for rigs whose names say nothing."""

from __future__ import annotations

import numpy as np

from ..model import BoneTable


def _descendants(bones: BoneTable) -> list[int]:
    count = [0] * len(bones)
    for i in reversed(range(len(bones))):
        p = bones.parents[i]
        if p >= 0:
            count[p] += count[i] + 1
    return count


def _chain(bones: BoneTable, start: str) -> list[str]:
    """From `start`, down while a bone has exactly one child."""
    chain = [start]
    while len(kids := bones.children(chain[-1])) == 1:
        chain.append(kids[0])
    return chain


def map_by_structure(bones: BoneTable) -> dict[str, str]:
    """The torso, head, arms and legs found from the hierarchy and the bones' positions alone.

    Assumes the VRM rest pose: up is +Z, the character's left is +X. Fingers are left out.
    """
    if not len(bones):
        return {}
    size = _descendants(bones)
    roots = [i for i, p in enumerate(bones.parents) if p < 0]
    hips = bones.names[max(roots, key=lambda i: size[i])]
    while len(kids := bones.children(hips)) == 1:  # a root / armature bone above the hips
        hips = kids[0]
    if len(kids) < 3:
        return {}
    mapping: dict[str, str] = {"hips": hips}
    z = {name: (bones.heads[i][2] + bones.tails[i][2]) / 2 for i, name in enumerate(bones.names)}
    x = {name: (bones.heads[i][0] + bones.tails[i][0]) / 2 for i, name in enumerate(bones.names)}
    ranked = sorted(kids, key=lambda k: -size[bones.index[k]])[:3]
    spine = max(ranked, key=lambda k: z[_chain(bones, k)[-1]])
    legs = sorted((k for k in ranked if k != spine), key=lambda k: -x[k])
    for side, leg in zip(("left", "right"), legs, strict=True):
        for vrm, name in zip(("UpperLeg", "LowerLeg", "Foot", "Toes"), _leg_chain(bones, leg), strict=False):
            mapping[side + vrm] = name
    torso = _chain(bones, spine)
    mapping["spine"] = torso[0]
    if len(torso) >= 2:
        mapping["chest"] = torso[1]
    if len(torso) >= 3:
        mapping["upperChest"] = torso[-1]
    branches = bones.children(torso[-1])
    if len(branches) >= 3:
        _map_neck_and_arms(bones, branches, x, mapping)
    return mapping


def _map_neck_and_arms(bones: BoneTable, branches: list[str], x: dict[str, float], mapping: dict[str, str]) -> None:
    """From the top of the torso: the middle branch is neck and head, the outer ones the arms."""
    neck = min(branches, key=lambda k: abs(x[k]))
    arms = sorted((b for b in branches if b != neck), key=lambda k: -x[k])
    head_chain = _chain(bones, neck)
    if len(head_chain) >= 2:
        mapping["neck"], mapping["head"] = head_chain[0], head_chain[1]
    else:
        mapping["head"] = head_chain[0]
    parts = ("Shoulder", "UpperArm", "LowerArm", "Hand")
    for side, arm in zip(("left", "right"), (arms[0], arms[-1]), strict=True):
        chain = _chain(bones, arm)[:4]
        # A short chain has no shoulder: it ends at the hand either way.
        for vrm, name in zip(parts[-len(chain) :], chain, strict=True):
            mapping[side + vrm] = name


def _leg_chain(bones: BoneTable, start: str) -> list[str]:
    chain = [start]
    while kids := bones.children(chain[-1]):
        # The toes continue the foot; a heel or twist helper branches off beside them.
        chain.append(
            min(
                kids,
                key=lambda k: float(np.linalg.norm(bones.heads[bones.index[k]] - bones.tails[bones.index[chain[-1]]])),
            )
        )
    return chain[:4]


def reduced(bones: BoneTable, keep: list[bool]) -> tuple[BoneTable, list[int]]:
    """The table of the kept bones only, each hanging from its nearest kept ancestor; and, per kept bone,
    its index in `bones`. Ancestry among kept bones is the same as in `bones`."""
    old = [i for i, k in enumerate(keep) if k]
    new_index = {o: n for n, o in enumerate(old)}
    parents = []
    for o in old:
        p = bones.parents[o]
        while p >= 0 and not keep[p]:
            p = bones.parents[p]
        parents.append(new_index[p] if p >= 0 else -1)
    table = BoneTable([bones.names[o] for o in old], parents, bones.heads[old], bones.tails[old], bones.deform[old])
    return table, old
