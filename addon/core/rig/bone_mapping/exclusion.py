"""Which bones may be mapped at all: never rig controls, IK, pole or target bones, tip bones, Rigify
ORG- bones beside their DEF- twins, or bones that do not deform when others do."""

from __future__ import annotations

import re
from typing import Final

from ..model import BoneTable

TOKEN: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
RIG_PREFIX: Final = re.compile(r"^(MCH|CTRL|CTL|WGT|VIS|TGT|MECH)[-_.]", re.IGNORECASE)
IK_TOKENS: Final = frozenset({"ik", "fk", "ikfk"})
TARGET_TOKENS: Final = frozenset({"pole", "target", "tgt"})
CONTROL_TOKENS: Final = frozenset({"ctrl", "ctl", "control", "controller", "mch", "wgt", "helper", "locator"})
_TIP_TOKENS: Final = frozenset({"end", "tip", "nub"})


def _tokens(name: str) -> list[str]:
    return [t.lower() for t in TOKEN.findall(name)]


def exclusion(name: str, *, deform: bool, any_deform: bool, has_def: bool) -> str | None:
    """Why a bone is never a humanoid bone ("an IK bone"...), or None when it may be mapped."""
    tokens = set(_tokens(name))
    last = _tokens(name)[-1:] or [""]
    rules = (
        (name.startswith("J_Sec_"), "a secondary (hair or cloth) bone"),
        (bool(tokens & IK_TOKENS), "an IK bone"),
        (bool(tokens & TARGET_TOKENS), "an IK pole or target bone"),
        (bool(RIG_PREFIX.match(name) or tokens & CONTROL_TOKENS), "a rig control bone"),
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
