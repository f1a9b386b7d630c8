"""What a bone's name says, as data: the naming conventions (Blender's metarig and Rigify, Mixamo, VRoid,
Unreal, MakeHuman, 3ds Max Biped, MMD, generic Left/Right names) as prefix, side and word tables, and the
evidence a name gives for each VRM bone, with a strength."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from .. import humanoid
from ..model import BoneTable
from .exclusion import CONTROL_TOKENS, IK_TOKENS, RIG_PREFIX, TARGET_TOKENS, TOKEN, exclusion

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
FINGER_SEGMENTS: Final[dict[str, tuple[str, str, str]]] = {
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
    rig_words = IK_TOKENS | TARGET_TOKENS | CONTROL_TOKENS
    for m in reversed(list(TOKEN.finditer(name))):
        if m.group().lower() in rig_words:
            name = name[: m.start()] + name[m.end() :]
    return RIG_PREFIX.sub("", name).strip("_-. ")


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
        return ((side + finger + FINGER_SEGMENTS[finger][int(m.group(2)) - 1], 3),)
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
                add(side + finger + FINGER_SEGMENTS[finger][numbers.index(n)], 3, r, i)
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
