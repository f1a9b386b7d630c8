"""Blender bone names -> VRM humanoid bones, from the naming conventions artists bring, with the hierarchy
as a fall-back when names don't help.

Conventions: Blender metarig and Rigify (DEF-/ORG- prefixes, .L/.R, spine.001...), Mixamo
(`mixamorig:LeftArm`), VRoid (`J_Bip_L_UpperArm`), Unreal mannequin (`upperarm_l`, `spine_01`), and
generic names with Left/Right, _l/_r, .L/.R. A name is split into prefix, side and a core word; the
core word is looked up in one table of synonyms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import numpy as np

from . import humanoid
from .rig_model import BoneTable

# Leading parts that carry no meaning for the mapping (rank: lower is preferred among equal matches).
_PREFIXES: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (re.compile(r"^DEF[-_.]"), 0),
    (re.compile(r"^mixamorig\d*[:_]", re.IGNORECASE), 1),
    (re.compile(r"^J_Bip_"), 1),
    (re.compile(r"^J_Adj_"), 1),
    (re.compile(r"^ORG[-_.]"), 3),
)
# Never humanoid bones: rig controls, mechanism and secondary (hair, skirt) bones.
_SKIP: Final = re.compile(r"^(MCH|CTRL|CTL|IK|FK|TGT|VIS|WGT|J_Sec)[-_.]|(^|[-_.])(ik|pole|target)($|[-_.])", re.I)
# Rigify splits long bones into segments: DEF-upper_arm.L.001 is the second half of the upper arm.
_SEGMENT: Final = re.compile(r"^(.*[._-](?:L|R|l|r))\.(\d{3})$")
_SIDE_SUFFIX: Final = re.compile(r"^(.+?)[._\- ](L|R|l|r|Left|Right|left|right)$")
_SIDE_PREFIX: Final = re.compile(r"^(Left|Right|left|right|LEFT|RIGHT)[._\- ]?(.+)$")
_SIDE_LETTER_PREFIX: Final = re.compile(r"^(L|R|C|l|r)[._\- ](.+)$")

_CENTER: Final[dict[str, str]] = {
    "hips": "hips", "hip": "hips", "pelvis": "hips",
    "chest": "chest", "upperchest": "upperChest",
    "neck": "neck", "neck01": "neck", "neck1": "neck",
    "head": "head", "jaw": "jaw",
}  # fmt: skip
_SIDED: Final[dict[str, str]] = {
    "shoulder": "Shoulder", "clavicle": "Shoulder", "collarbone": "Shoulder",
    "upperarm": "UpperArm", "arm": "UpperArm", "uparm": "UpperArm",
    "lowerarm": "LowerArm", "forearm": "LowerArm",
    "hand": "Hand", "wrist": "Hand",
    "upperleg": "UpperLeg", "upleg": "UpperLeg", "thigh": "UpperLeg",
    "lowerleg": "LowerLeg", "leg": "LowerLeg", "shin": "LowerLeg", "calf": "LowerLeg",
    "foot": "Foot", "ankle": "Foot",
    "toes": "Toes", "toe": "Toes", "toebase": "Toes", "ball": "Toes",
    "eye": "Eye", "faceeye": "Eye",
}  # fmt: skip
_FINGER_WORDS: Final[dict[str, str]] = {
    "thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring", "little": "Little", "pinky": "Little",
}  # fmt: skip
_FINGER_SEGMENTS: Final[dict[str, tuple[str, str, str]]] = {
    "Thumb": ("Metacarpal", "Proximal", "Distal"),
    **dict.fromkeys(("Index", "Middle", "Ring", "Little"), ("Proximal", "Intermediate", "Distal")),
}
_FINGER_NUMBERED: Final = re.compile(r"^(?:hand)?f?(thumb|index|middle|ring|little|pinky)(\d+)$")
_FINGER_NAMED: Final = re.compile(
    r"^(?:hand)?f?(thumb|index|middle|ring|little|pinky)(metacarpal|proximal|intermediate|distal)$"
)
_SPINE: Final = re.compile(r"^spine(\d*)$")


def _core(word: str) -> str:
    return re.sub(r"[._\- ]", "", word).lower()


def parse_name(name: str) -> tuple[str, str, int] | None:
    """(side "left"/"right"/"", core word, rank) for a bone name, or None for a bone never mapped."""
    if _SKIP.search(name):
        return None
    rank = 2
    rest = name
    for pattern, prefix_rank in _PREFIXES:
        if pattern.search(rest):
            rest = pattern.sub("", rest)
            rank = prefix_rank
            break
    if (segment := _SEGMENT.match(rest)) is not None:
        rest, rank = segment.group(1), rank + 4
    side = ""
    if (m := _SIDE_SUFFIX.match(rest)) is not None:
        rest, side = m.group(1), m.group(2)[0].lower()
    elif (m := _SIDE_PREFIX.match(rest)) is not None:
        side, rest = m.group(1)[0].lower(), m.group(2)
    elif (m := _SIDE_LETTER_PREFIX.match(rest)) is not None:
        side, rest = m.group(1).lower(), m.group(2)
        side = "" if side == "c" else side
    return {"l": "left", "r": "right", "": ""}[side], _core(rest), rank


def _rigify_spine(cores: set[str]) -> bool:
    # Rigify's metarig names its torso chain spine, spine.001, ... spine.006: `spine` is the hips there.
    return "spine001" in cores and "hips" not in cores and "pelvis" not in cores


_RIGIFY_TORSO: Final = ("hips", "spine", "chest", "upperChest", "neck", None, "head")
Candidates = dict[str, list[tuple[int, int, str]]]  # VRM bone -> (rank, bone order, bone name)


def _direct(side: str, core: str, rigify: bool) -> str | None:
    """The VRM bone a name means on its own (numbered spines and fingers need their siblings)."""
    if not side:
        spine = _SPINE.match(core)
        if spine is None:
            return _CENTER.get(core)
        number = int(spine.group(1) or 0)
        return _RIGIFY_TORSO[number] if rigify and number < len(_RIGIFY_TORSO) else None
    if core in _SIDED:
        return side + _SIDED[core]
    if (m := _FINGER_NAMED.match(core)) is not None:
        return side + _FINGER_WORDS[m.group(1)] + m.group(2).capitalize()
    return None


def _add_spines(candidates: Candidates, spines: list[tuple[int, int, str]], bones: BoneTable) -> None:
    """Numbered spines (Spine, Spine1, Spine2 / spine_01..03): spine, then chest and upperChest unless named."""
    free = [b for b in ("spine", "chest", "upperChest") if b == "spine" or b not in candidates]
    best_rank = min((r for _, r, _ in spines), default=0)
    numbered = sorted((n, name) for n, r, name in spines if r == best_rank)
    for vrm, (_, name) in zip(free, numbered, strict=False):
        candidates.setdefault(vrm, []).append((best_rank, bones.index[name], name))


def _add_fingers(candidates: Candidates, fingers: dict[tuple[str, str], list[tuple[int, int, str]]],
                 bones: BoneTable) -> None:  # fmt: skip
    """Numbered finger joints, lowest number first, whether they count from 0, 1 or 01."""
    for (side, finger), found in fingers.items():
        best = min(r for _, r, _ in found)
        numbers = sorted({n for n, r, _ in found if r == best})
        for n, r, name in found:
            if r == best and numbers.index(n) < 3:
                vrm = side + finger + _FINGER_SEGMENTS[finger][numbers.index(n)]
                candidates.setdefault(vrm, []).append((r, bones.index[name], name))


def map_by_name(bones: BoneTable) -> dict[str, str]:
    """VRM bone -> Blender bone for every bone whose name says what it is (deform bones preferred)."""
    parsed = {name: parse_name(name) for name in bones.names}
    rigify = _rigify_spine({p[1] for p in parsed.values() if p is not None})
    candidates: Candidates = {}
    spines: list[tuple[int, int, str]] = []
    fingers: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for order, name in enumerate(bones.names):
        p = parsed[name]
        if p is None:
            continue
        side, core, rank = p
        rank = rank if bones.deform[order] else rank + 8
        vrm = _direct(side, core, rigify)
        if vrm is not None:
            candidates.setdefault(vrm, []).append((rank, order, name))
        elif not side and not rigify and (spine := _SPINE.match(core)) is not None:
            spines.append((int(spine.group(1) or -1), rank, name))
        elif side and (m := _FINGER_NUMBERED.match(core)) is not None:
            fingers.setdefault((side, _FINGER_WORDS[m.group(1)]), []).append((int(m.group(2)), rank, name))
    _add_spines(candidates, spines, bones)
    _add_fingers(candidates, fingers, bones)
    return {vrm: min(found)[2] for vrm, found in candidates.items() if vrm in humanoid.PARENT}


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


def propose_mapping(
    bones: BoneTable, current: Mapping[str, str], suggested: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The mapping auto-map writes: what is set now (never overwritten), then names, then `suggested`
    (the VRM Add-on's own mapper), then the hierarchy; each Blender bone used once."""
    result = {vrm: name for vrm, name in current.items() if name in bones.index}
    used = set(result.values())
    for source in (map_by_name(bones), dict(suggested or {}), map_by_structure(bones)):
        for vrm in humanoid.HUMAN_BONES:
            name = source.get(vrm)
            if name is not None and vrm not in result and name in bones.index and name not in used:
                result[vrm] = name
                used.add(name)
    return result
