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

from .exclusion import exclusion, exclusions
from .names import name_evidence, parse_name
from .restructure import NewBone, Restructure, restructure
from .solver import MappingResult, hand_parts, solve
from .structure import map_by_structure

__all__ = [
    "MappingResult",
    "NewBone",
    "Restructure",
    "exclusion",
    "exclusions",
    "hand_parts",
    "map_by_structure",
    "name_evidence",
    "parse_name",
    "restructure",
    "solve",
]
