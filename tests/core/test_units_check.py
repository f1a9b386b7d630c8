"""The units check and fix on plain data (no bpy): which unit an avatar was authored in, and the preset's
target height when none makes it a person's size (0.3 to 3 m across, the head 0.5 to 2.5 m from the feet)."""

from __future__ import annotations

import numpy as np
import pytest

from addon.core.presets import get_preset
from addon.core.rig import checks
from addon.core.rig.model import ArmatureInfo, BoneTable, RigModel, Transform

# name, parent, head, tail: an adult (1.7 m, head bone at 1.5 m) and a chibi (1 m, its head half of it).
ADULT = (("Hips", None, (0, 0, 0.95), (0, 0, 1.1)), ("Head", "Hips", (0, 0, 1.5), (0, 0, 1.7)),
         ("Foot.L", "Hips", (0.1, 0, 0.08), (0.1, -0.1, 0.0)),
         ("Foot.R", "Hips", (-0.1, 0, 0.08), (-0.1, -0.1, 0.0)))  # fmt: skip
CHIBI = (("Hips", None, (0, 0, 0.3), (0, 0, 0.34)), ("Head", "Hips", (0, 0, 0.5), (0, 0, 1.0)),
         ("Foot.L", "Hips", (0.06, 0, 0.04), (0.06, -0.06, 0.0)),
         ("Foot.R", "Hips", (-0.06, 0, 0.04), (-0.06, -0.06, 0.0)))  # fmt: skip
MAPPING = {"hips": "Hips", "head": "Head", "leftFoot": "Foot.L", "rightFoot": "Foot.R"}
TARGET = get_preset("companions-web").target_height_m


def _rig(bones: tuple[tuple[str, str | None, tuple[float, ...], tuple[float, ...]], ...], size: float) -> RigModel:
    names = [b[0] for b in bones]
    table = BoneTable(
        names,
        [names.index(b[1]) if b[1] else -1 for b in bones],
        np.array([b[2] for b in bones], dtype=np.float64) * size,
        np.array([b[3] for b in bones], dtype=np.float64) * size,
        np.ones(len(bones), dtype=bool),
    )
    return RigModel(ArmatureInfo("Rig", Transform(), table, dict(MAPPING)), [])


def _fix(model: RigModel) -> tuple[float, str] | None:
    assert model.armature is not None
    return checks.units_fix(model, model.armature, MAPPING, TARGET)


def _after(model: RigModel, factor: float) -> tuple[float, float]:
    """Largest extent and head-to-feet span once scaled by `factor`."""
    assert model.armature is not None
    extent, span = checks.avatar_extent(model, model.armature), checks.head_to_feet(model.armature, MAPPING)
    assert extent is not None and span is not None
    return extent * factor, span * factor


# A child 1.2 m tall in inches is 47 units: 0.47 m in centimetres (its head 0.39 m from its feet) is no person.
@pytest.mark.parametrize(("size", "factor", "unit"), [(1000.0, 0.001, "millimetres"), (100.0, 0.01, "centimetres"),
                                                      (0.001, 1000.0, "units of 1000 m"),
                                                      (1.2 / 1.7 / 0.0254, 0.0254, "inches")])  # fmt: skip
def test_an_avatar_in_other_units_is_scaled_by_its_unit(size: float, factor: float, unit: str) -> None:
    found = _fix(_rig(ADULT, size))
    assert found is not None and found[0] == pytest.approx(factor) and f"its units read as {unit}" in found[1]


def test_powers_of_ten_come_before_inches() -> None:
    # 67 units: an adult in inches, or a small child in centimetres; metric tools are the common case.
    found = _fix(_rig(ADULT, 1 / 0.0254))
    assert found is not None and found[0] == pytest.approx(0.01)


def test_a_person_sized_avatar_needs_no_units_fix() -> None:
    assert _fix(_rig(ADULT, 1.0)) is None and _fix(_rig(CHIBI, 1.1)) is None  # a chibi of 1.1 m is fine


def test_a_chibi_no_power_of_ten_fits_is_read_in_feet_and_lands_person_sized() -> None:
    chibi = _rig(CHIBI, 3.75)  # 0.375 m at a tenth: a doll whose head is 0.19 m from its feet
    found = _fix(chibi)
    assert found is not None and found[0] == pytest.approx(0.3048) and "feet" in found[1]
    extent, span = _after(chibi, found[0])
    assert checks.person_sized(extent, span) and 1.1 < extent < 1.2 and span >= 0.5


@pytest.mark.parametrize("size", [0.375, 37.5])
def test_a_size_no_unit_explains_goes_to_the_presets_target_height(size: float) -> None:
    # 0.375 m: a doll read in metres; 37.5 m: in inches 0.95 m across but its head 0.48 m from its feet.
    doll = _rig(CHIBI, size)
    found = _fix(doll)
    assert found is not None and "target height of 1.6 m, proportions kept" in found[1]
    extent, span = _after(doll, found[0])
    assert extent == pytest.approx(TARGET) and checks.person_sized(extent, span)


def test_the_check_says_the_unit_and_the_factor() -> None:
    model = _rig(CHIBI, 3.75)
    assert model.armature is not None
    (finding,) = checks.check_units(model, model.armature, MAPPING, TARGET, pose_scaled=False)
    assert finding.id == "wrong_units" and finding.fixable
    assert "its head 1.73 m from its feet" in finding.message and "by 0.3048" in finding.message


def _wide(span_x: float) -> RigModel:
    """The adult (1.7 m, head 1.42 m from the feet) with hands `span_x` metres apart: its largest extent."""
    hands = (("Hand.L", "Hips", (span_x / 2 - 0.1, 0, 1.4), (span_x / 2, 0, 1.4)),
             ("Hand.R", "Hips", (-span_x / 2 + 0.1, 0, 1.4), (-span_x / 2, 0, 1.4)))  # fmt: skip
    return _rig(ADULT + hands, 1.0)


def test_the_person_size_ends_where_it_says_across_and_head_to_feet() -> None:
    # 3 m across at most, the head at most 2.5 m from the feet: each edge pinned from both sides.
    assert _fix(_wide(2.99)) is None
    assert _fix(_wide(3.01)) is not None
    # A short head bone (1.6 m tall): the head 2.51 m from the feet while the avatar is 2.83 m tall.
    short_head = tuple(("Head", "Hips", (0, 0, 1.5), (0, 0, 1.6)) if b[0] == "Head" else b for b in ADULT)
    assert _fix(_rig(short_head, 2.49 / 1.42)) is None
    assert _fix(_rig(short_head, 2.51 / 1.42)) is not None


def _lifted(dz: float) -> RigModel:
    model = _rig(ADULT, 1.0)
    assert model.armature is not None
    lifted = Transform(location=(0.0, 0.0, dz), matrix_world=((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, dz), (0, 0, 0, 1)))
    return RigModel(ArmatureInfo("Rig", lifted, model.armature.bones, dict(MAPPING)), [])


@pytest.mark.parametrize(("dz", "grounded"), [(0.004, True), (-0.004, True), (0.006, False), (-0.006, False)])
def test_grounding_allows_five_millimetres_either_way(dz: float, grounded: bool) -> None:
    ids = checks.run_checks(_lifted(dz)).ids()
    assert ("not_grounded" not in ids) == grounded, ids
