"""Blender bone names -> VRM humanoid bones: one mapping that satisfies VRM's hierarchy as a whole.

Three steps, each on plain data:
1. Which bones may be mapped at all (`exclusion`): never rig controls, IK, pole or target bones, tip
   (`_end`) bones, Rigify ORG- bones beside their DEF- twins, or bones that do not deform when others do.
2. What each bone's name says (`name_evidence`): conventions of Blender's metarig and Rigify, Mixamo (with or
   without `mixamorig:`), VRoid, Unreal, MakeHuman, 3ds Max Biped, MMD (Japanese), and generic names with
   Left/Right, _l/_r, .L/.R or a glued L/R. A name may mean several bones (`Left leg` is an upper leg
   beside a knee, a lower leg beside an up-leg), each with a strength.
3. `solve`: the hips (a named hips bone or where legs and spine branch, whichever is anatomically plausible),
   then each chain (legs, torso, arms, fingers, eyes) fitted below its parent so that every VRM bone
   descends from its VRM parent. Bones the user mapped by hand are kept as they are.

Deterministic and scale-free: ties go to the bone Blender lists first; geometry only compares distances.
Up is +Z and the character's left is +X only for the structural fall-back on unnamed rigs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from . import humanoid
from .model import BoneTable, FloatArray

# --- which bones may be mapped ----------------------------------------------------------------------------

_TOKEN: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_RIG_PREFIX: Final = re.compile(r"^(MCH|CTRL|CTL|WGT|VIS|TGT|MECH)[-_.]", re.IGNORECASE)
_IK_TOKENS: Final = frozenset({"ik", "fk", "ikfk"})
_TARGET_TOKENS: Final = frozenset({"pole", "target", "tgt"})
_CONTROL_TOKENS: Final = frozenset({"ctrl", "ctl", "control", "controller", "mch", "wgt", "helper", "locator"})
_TIP_TOKENS: Final = frozenset({"end", "tip", "nub"})


def _tokens(name: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(name)]


def exclusion(name: str, *, deform: bool, any_deform: bool, has_def: bool) -> str | None:
    """Why a bone is never a humanoid bone ("an IK bone"...), or None when it may be mapped."""
    tokens = set(_tokens(name))
    last = _tokens(name)[-1:] or [""]
    rules = (
        (name.startswith("J_Sec_"), "a secondary (hair or cloth) bone"),
        (bool(tokens & _IK_TOKENS), "an IK bone"),
        (bool(tokens & _TARGET_TOKENS), "an IK pole or target bone"),
        (bool(_RIG_PREFIX.match(name) or tokens & _CONTROL_TOKENS), "a rig control bone"),
        (last[0] in _TIP_TOKENS, "a tip bone (it only marks where its parent ends)"),
        (has_def and name.startswith("ORG-"), "a Rigify ORG- bone (its DEF- twin deforms)"),
        (any_deform and not deform, "a bone that does not deform"),
    )
    return next((why for applies, why in rules if applies), None)


def exclusions(bones: BoneTable) -> list[str | None]:
    """`exclusion` for every bone of the table."""
    any_deform = bool(bones.deform.any())
    has_def = any(n.startswith("DEF-") for n in bones.names)
    return [
        exclusion(n, deform=bool(d), any_deform=any_deform, has_def=has_def)
        for n, d in zip(bones.names, bones.deform, strict=True)
    ]


# --- what names say ---------------------------------------------------------------------------------------

# Leading parts that carry no meaning (rank: lower is preferred among equal matches).
_PREFIXES: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (re.compile(r"^DEF[-_.]"), 0),
    (re.compile(r"^mixamorig\d*[:_]", re.IGNORECASE), 1),
    (re.compile(r"^J_Bip_"), 1),
    (re.compile(r"^J_Adj_"), 1),
    (re.compile(r"^Bip\d*[ _]"), 1),
    (re.compile(r"^ORG[-_.]"), 3),
)
# Rigify splits long bones into segments: DEF-upper_arm.L.001 is the second half of the upper arm.
_SEGMENT: Final = re.compile(r"^(.*[._-](?:L|R|l|r))\.(\d{3})$")
_SIDE_SUFFIX: Final = re.compile(r"^(.+?)[._\- ](L|R|l|r|Left|Right|left|right)$")
_SIDE_PREFIX: Final = re.compile(r"^(Left|Right|left|right|LEFT|RIGHT)[._\- ]?(.+)$")
_SIDE_LETTER_PREFIX: Final = re.compile(r"^(L|R|C|l|r)[._\- ](.+)$")
_SIDE_GLUED: Final = re.compile(r"^(.*[a-z0-9])(L|R)$")  # UpperArmL
_SIDE_KANJI: Final = re.compile(r"^([左右])(.+)$")

# Word -> ((VRM bone, strength), ...). Strength 3: the word names that bone; 2: usually; 1: when nothing better.
Meaning = tuple[tuple[str, float], ...]
_CENTER: Final[dict[str, Meaning]] = {
    "hips": (("hips", 3),), "hip": (("hips", 3),), "pelvis": (("hips", 3),),
    "abdomen": (("spine", 3),), "torso": (("spine", 2), ("chest", 1)), "上半身": (("spine", 3),),
    "chest": (("chest", 3), ("upperChest", 1)), "upperchest": (("upperChest", 3),), "上半身2": (("chest", 3),),
    "neck": (("neck", 3),), "首": (("neck", 3),),
    "head": (("head", 3),), "頭": (("head", 3),),
    "jaw": (("jaw", 3),), "あご": (("jaw", 3),),
}  # fmt: skip
_SIDED: Final[dict[str, Meaning]] = {
    "shoulder": (("Shoulder", 3),), "clavicle": (("Shoulder", 3),), "collarbone": (("Shoulder", 3),),
    "肩": (("Shoulder", 3),),
    "upperarm": (("UpperArm", 3),), "uparm": (("UpperArm", 3),), "arm": (("UpperArm", 2),), "腕": (("UpperArm", 2),),
    "lowerarm": (("LowerArm", 3),), "forearm": (("LowerArm", 3),), "elbow": (("LowerArm", 2),),
    "ひじ": (("LowerArm", 2),),
    "hand": (("Hand", 3),), "wrist": (("Hand", 2),), "手首": (("Hand", 2),), "palm": (("Hand", 1),),
    "fist": (("Hand", 1),),
    "upperleg": (("UpperLeg", 3),), "upleg": (("UpperLeg", 3),), "thigh": (("UpperLeg", 3),),
    "足": (("UpperLeg", 2),),
    "lowerleg": (("LowerLeg", 3),), "calf": (("LowerLeg", 3),), "shin": (("LowerLeg", 3),),
    "knee": (("LowerLeg", 2),), "ひざ": (("LowerLeg", 2),),
    "leg": (("LowerLeg", 2), ("UpperLeg", 1)),
    "foot": (("Foot", 3),), "ankle": (("Foot", 2),), "足首": (("Foot", 3),),
    "toes": (("Toes", 3),), "toe": (("Toes", 3),), "toebase": (("Toes", 3),), "ball": (("Toes", 2),),
    "つま先": (("Toes", 2),),
    "eye": (("Eye", 3),), "faceeye": (("Eye", 3),), "目": (("Eye", 3),),
}  # fmt: skip
_FINGER_WORDS: Final[dict[str, str]] = {
    "thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring", "little": "Little", "pinky": "Little",
}  # fmt: skip
_FINGER_SEGMENTS: Final[dict[str, tuple[str, str, str]]] = {
    "Thumb": ("Metacarpal", "Proximal", "Distal"),
    **dict.fromkeys(("Index", "Middle", "Ring", "Little"), ("Proximal", "Intermediate", "Distal")),
}
# A finger word with no number is its first segment beside numbered ones (IndexL, Index2L).
_FINGER_NUMBERED: Final = re.compile(r"^(?:hand)?f?(thumb|index|middle|ring|little|pinky)(\d*)$")
_FINGER_NAMED: Final = re.compile(
    r"^(?:hand)?f?(thumb|index|middle|ring|little|pinky)(metacarpal|proximal|intermediate|distal)$"
)
_MAKEHUMAN_FINGER: Final = re.compile(r"^finger([1-5])-([1-3])$")  # finger1 is the thumb
_NUMBERED_WORD: Final = re.compile(r"^([a-z]+)0*(\d+)$")  # upperarm01, neck02
_SPINE: Final = re.compile(r"^spine(\d*)$")
_RIGIFY_TORSO: Final = ("hips", "spine", "chest", "upperChest", "neck", None, "head")


def _core(word: str) -> str:
    return re.sub(r"[._\- ]", "", word).lower()


def _split_side(rest: str) -> tuple[str, str]:
    """(side "l"/"r"/"", what is left of the name)."""
    if (m := _SIDE_SUFFIX.match(rest)) is not None:
        return m.group(2)[0].lower(), m.group(1)
    if (m := _SIDE_PREFIX.match(rest)) is not None:
        return m.group(1)[0].lower(), m.group(2)
    if (m := _SIDE_LETTER_PREFIX.match(rest)) is not None:
        side = m.group(1).lower()
        return ("" if side == "c" else side), m.group(2)
    if (m := _SIDE_KANJI.match(rest)) is not None:
        return ("l" if m.group(1) == "左" else "r"), m.group(2)
    if (m := _SIDE_GLUED.match(rest)) is not None and _known_sided(_core(m.group(1))):
        return m.group(2).lower(), m.group(1)
    return "", rest


def _known_sided(core: str) -> bool:
    return core in _SIDED or bool(_FINGER_NAMED.match(core) or _FINGER_NUMBERED.match(core))


def _without_rig_words(name: str) -> str:
    """The name without its rig words: `IK_Foot.L` -> `Foot.L`, `MCH-forearm_ik.L` -> `forearm_.L`."""
    rig_words = _IK_TOKENS | _TARGET_TOKENS | _CONTROL_TOKENS
    for m in reversed(list(_TOKEN.finditer(name))):
        if m.group().lower() in rig_words:
            name = name[: m.start()] + name[m.end() :]
    return _RIG_PREFIX.sub("", name).strip("_-. ")


def parse_name(name: str, *, rig_bones_too: bool = False) -> tuple[str, str, int] | None:
    """(side "left"/"right"/"", core word, rank) for a bone name, or None for a rig bone never mapped
    (with `rig_bones_too`, what a rig bone's name says without its rig words: to explain why it is not used)."""
    if rig_bones_too:
        name = _without_rig_words(name)
    elif exclusion(name, deform=True, any_deform=False, has_def=False) is not None:
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
    side, rest = _split_side(rest)
    if side and (m := _MAKEHUMAN_FINGER.match(rest.lower())) is not None:
        return {"l": "left", "r": "right"}[side], f"finger{m.group(1)}-{m.group(2)}", rank
    return {"l": "left", "r": "right", "": ""}[side], _core(rest), rank


Evidence = dict[str, list[tuple[float, int]]]  # VRM bone -> [(score, bone index)], best first
_Adder = Callable[[str, float, int, int], None]  # (VRM bone, strength, rank, bone index)


def _word_meaning(side: str, core: str) -> Meaning:
    table = _SIDED if side else _CENTER
    if core in table:
        return tuple((side + vrm, s) for vrm, s in table[core])
    if (m := _NUMBERED_WORD.match(core)) is not None and m.group(1) in table and not _SPINE.match(core):
        # upperarm01 is the upper arm; upperarm02 a twist segment of it, a weak candidate at best.
        first = int(m.group(2)) <= 1
        return tuple((side + vrm, s - 0.5 if first else 0.5) for vrm, s in table[m.group(1)])
    if side and (m := _FINGER_NAMED.match(core)) is not None:
        return ((side + _FINGER_WORDS[m.group(1)] + m.group(2).capitalize(), 3),)
    if side and (m := _MAKEHUMAN_FINGER.match(core)) is not None:
        finger = ("Thumb", "Index", "Middle", "Ring", "Little")[int(m.group(1)) - 1]
        return ((side + finger + _FINGER_SEGMENTS[finger][int(m.group(2)) - 1], 3),)
    return ()


def name_evidence(bones: BoneTable, allowed: Iterable[int] | None = None, *, rig_bones_too: bool = False) -> Evidence:
    """What the names of the `allowed` bones (default: all) say, per VRM bone."""
    allowed_set = set(range(len(bones))) if allowed is None else set(allowed)
    parsed = {i: parse_name(bones.names[i], rig_bones_too=rig_bones_too) for i in sorted(allowed_set)}
    centers = {p[1] for p in parsed.values() if p is not None and not p[0]}
    rigify = "spine001" in centers and not centers & {"hips", "hip", "pelvis"}
    evidence: Evidence = {}

    def add(vrm: str, strength: float, rank: int, i: int) -> None:
        if vrm in humanoid.PARENT:
            evidence.setdefault(vrm, []).append((strength * 10 - rank, i))

    spines: list[tuple[int, int]] = []  # (rank, bone)
    fingers: dict[tuple[str, str], list[tuple[int, int, int]]] = {}  # (side, finger) -> [(number, rank, bone)]
    for i, p in parsed.items():
        if p is None:
            continue
        side, core, rank = p
        if not side and (spine := _SPINE.match(core)) is not None:
            number = int(spine.group(1) or 0)
            if not rigify:
                spines.append((rank, i))
            elif number < len(_RIGIFY_TORSO) and (vrm := _RIGIFY_TORSO[number]) is not None:
                add(vrm, 3, rank, i)
            continue
        for vrm, strength in _word_meaning(side, core):
            add(vrm, strength, rank, i)
        if side and (m := _FINGER_NUMBERED.match(core)) is not None:
            fingers.setdefault((side, _FINGER_WORDS[m.group(1)]), []).append((int(m.group(2) or 1), rank, i))
    _spine_evidence(bones, spines, add)
    for (side, finger), found in fingers.items():
        best = min(r for _, r, _ in found)
        numbers = sorted({n for n, r, _ in found if r == best})
        for n, r, i in found:
            if r == best and numbers.index(n) < 3:
                add(side + finger + _FINGER_SEGMENTS[finger][numbers.index(n)], 3, r, i)
    for candidates in evidence.values():
        candidates.sort(key=lambda e: (-e[0], e[1]))
    return evidence


def _spine_evidence(bones: BoneTable, spines: list[tuple[int, int]], add: _Adder) -> None:
    """Numbered spines (Spine, Spine1, Spine2; spine_01..03; MakeHuman's spine05..spine01 upward), in
    hierarchy order: the lowest is the spine, the next the chest, the top one the upper chest."""
    if not spines:
        return
    best = min(r for r, _ in spines)
    chain = sorted((i for r, i in spines if r == best), key=lambda i: (_depth(bones, i), i))
    # Named chest bones win over numbered ones (2.5 < 3).
    add("spine", 3, best, chain[0])
    if len(chain) == 2:
        add("chest", 2.5, best, chain[1])
    elif len(chain) >= 3:
        add("chest", 2.5, best, chain[(len(chain) - 1) // 2])
        add("upperChest", 2.5, best, chain[-1])


def _depth(bones: BoneTable, i: int) -> int:
    depth, p = 0, bones.parents[i]
    while p >= 0:
        depth, p = depth + 1, bones.parents[p]
    return depth


# --- the hierarchy alone ------------------------------------------------------------------------------------


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


# --- solving ------------------------------------------------------------------------------------------------

_LEG: Final = ("UpperLeg", "LowerLeg", "Foot", "Toes")
_ARM: Final = ("Shoulder", "UpperArm", "LowerArm", "Hand")
_TORSO: Final = ("spine", "chest", "upperChest", "neck", "head")
_REQUIRED: Final = humanoid.REQUIRED_VRM1
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
                walk(k + 1, self.fixed[vrm], acc, req + (vrm in _REQUIRED), score)
                del acc[vrm]
                return
            for s, i in self.evidence.get(vrm, []):
                if i in used or i in acc.values() or not self.below(prev, i):
                    continue
                acc[vrm] = i
                walk(k + 1, i, acc, req + (vrm in _REQUIRED), score + s)
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
            for finger, segments in _FINGER_SEGMENTS.items():
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
            key = (sum(v in _REQUIRED for v in arms), len(arms))
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
    return (sum(v in _REQUIRED for v in m), len(m))


def solve(
    bones: BoneTable,
    current: Mapping[str, str] | None = None,
    required: frozenset[str] = _REQUIRED,
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


def _reach(bones: BoneTable, forearm: int, parts: list[int]) -> tuple[FloatArray, FloatArray]:
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
    _, reach = _reach(bones, forearm, kids)
    parts = [k for k, t in zip(kids, reach.tolist(), strict=True) if length > 0.0 and t >= _HAND_REACH * length]
    return parts if len(parts) >= 2 else []


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
    axis, reach = _reach(bones, f, idx)
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
    required: frozenset[str] = _REQUIRED,
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
