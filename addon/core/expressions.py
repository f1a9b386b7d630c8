"""Which shape key drives which VRM expression, from the names artists bring.

Conventions recognised: the VRM names themselves (`aa`, `blinkLeft`), VRChat visemes and eye keys
(`vrc.v_aa`, `vrc.blink_left`), VRoid Studio (`Fcl_MTH_A`, `Fcl_EYE_Close_L`, `Fcl_ALL_Joy`), ARKit
blendshapes (`jawOpen`, `eyeBlinkLeft`), plain vowels (`A I U E O`, also in Japanese) and `mouth_a`-style
names. Matching ignores case and separators; the first convention that names an expression wins.
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
    "aa": ("aa", "vrcvaa", "fclmtha", "a", "mouth_a", "vowela", "あ", "jawopen"),
    "ih": ("ih", "vrcvih", "fclmthi", "i", "mouth_i", "voweli", "い"),
    "ou": ("ou", "vrcvou", "fclmthu", "u", "mouth_u", "vowelu", "う", "mouthfunnel"),
    "ee": ("ee", "vrcve", "vrcvee", "fclmthe", "e", "mouth_e", "vowele", "え"),
    "oh": ("oh", "vrcvoh", "fclmtho", "o", "mouth_o", "vowelo", "お", "mouthpucker"),
    "blink": ("blink", "vrcblink", "fcleyeclose", "eyeclose", "eyesclosed", "まばたき"),
    "blinkLeft": ("blinkleft", "blinkl", "vrcblinkleft", "vrcblinkl", "fcleyeclosel", "eyeblinkleft", "winkl"),
    "blinkRight": ("blinkright", "blinkr", "vrcblinkright", "vrcblinkr", "fcleyecloser", "eyeblinkright", "winkr"),
    "happy": ("happy", "joy", "fclalljoy", "smile", "笑い"),
    "angry": ("angry", "fclallangry", "anger", "怒り"),
    "sad": ("sad", "sorrow", "fclallsorrow", "困る"),
    "relaxed": ("relaxed", "fun", "fclallfun", "calm"),
    "surprised": ("surprised", "surprise", "fclallsurprised", "驚き"),
    "lookUp": ("lookup", "eyelookup", "fcleyelookup"),
    "lookDown": ("lookdown", "eyelookdown", "fcleyelookdown"),
    "lookLeft": ("lookleft", "eyelookleft", "fcleyelookleft"),
    "lookRight": ("lookright", "eyelookright", "fcleyelookright"),
    "neutral": ("neutral", "fclallneutral"),
}
_SEPARATORS = re.compile(r"[\s._\-]+")


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
