"""Which shape key drives which VRM expression, from the names artists bring.

Conventions recognised: the VRM names themselves (`aa`, `blinkLeft`), VRChat visemes and eye keys
(`vrc.v_aa`, `vrc.blink_left`, and in folders `viseme/aa`, `eye/blink`), VRoid Studio (`Fcl_MTH_A`,
`Fcl_EYE_Close_L`, `Fcl_ALL_Joy`), UniVRM's samples (`MTH_A`, `lip_a`, `face_happy`), Oculus visemes
(`viseme_aa`, `viseme_E`), Microsoft Rocketbox visemes (`AE_AA_h`), ARKit blendshapes (`jawOpen`,
`eyeBlinkLeft`), plain vowels (`A I U E O`, also in Japanese) and `mouth_a`-style names. Matching ignores
case and separators (`/` too); the first convention that names an expression wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

# The VRM 1.0 preset expressions, in the specification's order.
PRESETS: Final[tuple[str, ...]] = (
    "happy", "angry", "sad", "relaxed", "surprised",
    "aa", "ih", "ou", "ee", "oh",
    "blink", "blinkLeft", "blinkRight",
    "lookUp", "lookDown", "lookLeft", "lookRight",
    "neutral",
)  # fmt: skip

# VRM 0.x blend shape group presets; `surprised` has none there (it becomes a custom group).
VRM0_PRESET: Final[dict[str, str]] = {
    "neutral": "neutral", "aa": "a", "ih": "i", "ou": "u", "ee": "e", "oh": "o",
    "blink": "blink", "blinkLeft": "blink_l", "blinkRight": "blink_r",
    "happy": "joy", "angry": "angry", "sad": "sorrow", "relaxed": "fun",
    "lookUp": "lookup", "lookDown": "lookdown", "lookLeft": "lookleft", "lookRight": "lookright",
}  # fmt: skip

# Per expression, the names that mean it, compared after _key(); earlier entries win over later ones.
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "aa": ("aa", "vrcvaa", "visemeaa", "fclmtha", "mtha", "lipa", "a", "mouth_a", "vowela", "あ", "aeaah",
           "jawopen"),
    "ih": ("ih", "vrcvih", "visemeih", "visemei", "fclmthi", "mthi", "lipi", "i", "mouth_i", "voweli", "い",
           "ihiyh", "iyh"),
    "ou": ("ou", "vrcvou", "visemeou", "visemeu", "fclmthu", "mthu", "lipu", "u", "mouth_u", "vowelu", "う",
           "uwh", "uhh", "mouthfunnel"),
    "ee": ("ee", "vrcve", "vrcvee", "visemee", "fclmthe", "mthe", "lipe", "e", "mouth_e", "vowele", "え",
           "ehh", "eyh"),
    "oh": ("oh", "vrcvoh", "visemeoh", "visemeo", "fclmtho", "mtho", "lipo", "o", "mouth_o", "vowelo", "お",
           "owh", "aoah", "mouthpucker"),
    "blink": ("blink", "vrcblink", "eyeblink", "fcleyeclose", "eyeclose", "eyesclosed", "まばたき"),
    "blinkLeft": ("blinkleft", "blinkl", "vrcblinkleft", "vrcblinkl", "eyeblinkl", "fcleyeclosel", "eyeclosel",
                  "eyeblinkleft", "winkl"),
    "blinkRight": ("blinkright", "blinkr", "vrcblinkright", "vrcblinkr", "eyeblinkr", "fcleyecloser",
                   "eyecloser", "eyeblinkright", "winkr"),
    "happy": ("happy", "joy", "fclalljoy", "facehappy", "facejoy", "smile", "笑い"),
    "angry": ("angry", "fclallangry", "faceangry", "anger", "怒り"),
    "sad": ("sad", "sorrow", "fclallsorrow", "facesad", "facesorrow", "困る"),
    "relaxed": ("relaxed", "fun", "fclallfun", "facerelaxed", "facefun", "calm"),
    "surprised": ("surprised", "surprise", "fclallsurprised", "facesurprised", "facesurprise", "驚き"),
    "lookUp": ("lookup", "eyelookup", "fcleyelookup"),
    "lookDown": ("lookdown", "eyelookdown", "fcleyelookdown"),
    "lookLeft": ("lookleft", "eyelookleft", "fcleyelookleft"),
    "lookRight": ("lookright", "eyelookright", "fcleyelookright"),
    "neutral": ("neutral", "fclallneutral"),
}  # fmt: skip
_SEPARATORS = re.compile(r"[\s._/\-]+")


def _key(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


# ARKit splits eyes and looks per side: eyeLookUpLeft + eyeLookUpRight both mean lookUp, and looking
# left is the left eye out and the right eye in.
_ARKIT_SIDED: Final[dict[str, str]] = {
    **{f"eyelook{d}{side}": f"look{d.capitalize()}" for d in ("up", "down") for side in ("left", "right")},
    "eyelookoutleft": "lookLeft",
    "eyelookinright": "lookLeft",
    "eyelookoutright": "lookRight",
    "eyelookinleft": "lookRight",
}


def _lookup_table() -> dict[str, list[tuple[int, str]]]:
    """key -> [(priority, expression)], lower priority wins when two shape keys claim one expression."""
    table: dict[str, list[tuple[int, str]]] = {}
    for expression, aliases in _ALIASES.items():
        for rank, alias in enumerate(aliases):
            table.setdefault(_key(alias), []).append((rank, expression))
    for alias, expression in _ARKIT_SIDED.items():
        table.setdefault(alias, []).append((len(_ALIASES[expression]), expression))
    return table


_TABLE: Final = _lookup_table()


def expression_for(shape_key: str) -> str | None:
    """The VRM expression a shape key name means, or None."""
    found = _TABLE.get(_key(shape_key))
    return min(found)[1] if found else None


def map_shape_keys(shape_keys: Iterable[str], keep: Iterable[str] = ()) -> dict[str, list[str]]:
    """expression -> the shape keys that drive it, for expressions not in `keep` (the user's own).

    Per expression, only the best-ranked convention's keys are used (ARKit's two-sided looks bind both
    sides); a name that means nothing is skipped.
    """
    kept = set(keep)
    best: dict[str, tuple[int, list[str]]] = {}
    for name in shape_keys:
        for rank, expression in _TABLE.get(_key(name), ()):
            if expression in kept:
                continue
            current = best.get(expression)
            if current is None or rank < current[0]:
                best[expression] = (rank, [name])
            elif rank == current[0] and name not in current[1]:
                current[1].append(name)
    return {expression: best[expression][1] for expression in PRESETS if expression in best}


def vrm1_preset_of(vrm0_preset: str) -> str | None:
    """The VRM 1.0 preset a VRM 0.x blend shape group preset becomes (joy -> happy), None for `unknown`."""
    return next((e for e, v0 in VRM0_PRESET.items() if v0 == vrm0_preset), None)


def vrm1_name_of_group(preset_name: str, name: str) -> str:
    """The VRM 1.0 expression a VRM 0.x group is carried into: its preset's, `surprised` for a custom group
    named "surprise(d)" (VRM 0.x has no such preset; the VRM Add-on's own rule), else a custom one by name."""
    if (preset := vrm1_preset_of(preset_name)) is not None:
        return preset
    return "surprised" if name.casefold() in ("surprise", "surprised") else name
