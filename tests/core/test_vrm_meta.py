"""The meta an export writes: the model's own kept, the preset only filling gaps, and VRM 0.x <-> 1.0 (no bpy)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from addon.core.presets import VRM1_LICENSE_URL, get_preset
from addon.core.vrm.meta import (
    LICENSE_FINDING,
    VRM0_FIELDS,
    VRM1_FIELDS,
    plan_meta,
    vrm0_to_vrm1,
    vrm1_to_vrm0,
)

WEB = get_preset("companions-web").meta
LEGACY = get_preset("vrm0-legacy").meta
# What the VRM Add-on holds for an armature nobody has touched (its property defaults).
EMPTY_VRM1: dict[str, Any] = {
    "vrm_name": "", "version": "", "authors": [], "copyright_information": "", "contact_information": "",
    "references": [], "third_party_licenses": "", "avatar_permission": "onlyAuthor",
    "commercial_usage": "personalNonProfit", "credit_notation": "required", "modification": "prohibited",
    "allow_redistribution": False, "allow_excessively_violent_usage": False, "allow_excessively_sexual_usage": False,
    "allow_political_or_religious_usage": False, "allow_antisocial_or_hate_usage": False, "other_license_url": "",
}  # fmt: skip
EMPTY_VRM0: dict[str, Any] = {
    "title": "", "version": "", "author": "", "contact_information": "", "reference": "",
    "allowed_user_name": "OnlyAuthor", "violent_ussage_name": "Disallow", "sexual_ussage_name": "Disallow",
    "commercial_ussage_name": "Disallow", "other_permission_url": "", "license_name": "Redistribution_Prohibited",
    "other_license_url": "",
}  # fmt: skip
KITSUNE_VRM0 = EMPTY_VRM0 | {
    "title": "Kitsune", "version": "3.2", "author": "Mika Tanaka, Studio Fox Co., Ltd.",
    "contact_information": "mika@example.com", "reference": "https://example.com/kitsune",
    "allowed_user_name": "Everyone", "commercial_ussage_name": "Allow", "violent_ussage_name": "Allow",
    "license_name": "CC_BY",
}  # fmt: skip
KITSUNE_VRM1 = EMPTY_VRM1 | {
    "vrm_name": "Kitsune", "version": "3.2", "authors": ["Mika Tanaka", "Ren"], "copyright_information": "(c) Mika",
    "contact_information": "mika@example.com", "references": ["https://example.com/kitsune"],
    "third_party_licenses": "hair by Ren, CC BY", "avatar_permission": "everyone", "commercial_usage": "corporation",
    "credit_notation": "unnecessary", "modification": "allowModificationRedistribution",
    "allow_redistribution": True, "other_license_url": "https://example.com/license",
}  # fmt: skip


def test_a_model_without_meta_gets_the_preset_license_its_file_name_and_the_preset_authors():
    plan = plan_meta("1.0", EMPTY_VRM1, EMPTY_VRM0, WEB, {}, fallback_name="Companion-A")
    assert plan.fields["vrm_name"] == "Companion-A" and plan.fields["authors"] == ["Avatar Forge"]
    assert plan.fields["version"] == "1" and plan.findings == ()
    assert plan.fields["modification"] == WEB.modification and plan.fields["allow_redistribution"] is False
    legacy = plan_meta("0.x", EMPTY_VRM1, EMPTY_VRM0, LEGACY, {}, fallback_name="Companion-A")
    assert legacy.fields["title"] == "Companion-A" and legacy.fields["author"] == "Avatar Forge"
    assert legacy.fields["license_name"] == "Redistribution_Prohibited"
    assert set(legacy.fields) <= set(VRM0_FIELDS)


def test_every_field_of_a_vrm1_model_is_kept_and_a_different_preset_license_is_reported_not_written():
    plan = plan_meta("1.0", KITSUNE_VRM1, EMPTY_VRM0, WEB, {}, fallback_name="out", preset_name="companions-web")
    assert plan.fields == {key: KITSUNE_VRM1[key] for key in VRM1_FIELDS}
    [finding] = plan.findings
    assert finding.id == LICENSE_FINDING and finding.severity == "warning" and not finding.fixable
    assert "allow_redistribution True (preset: False)" in finding.message and "'companions-web'" in finding.message


def test_the_same_license_as_the_preset_is_no_finding():
    model = EMPTY_VRM1 | {"vrm_name": "Mine", "authors": ["Me"]}
    assert plan_meta("1.0", model, EMPTY_VRM0, WEB, {}, fallback_name="x").findings == ()


def test_overrides_replace_only_what_they_name():
    overrides = {"name": "Kit", "author": "Ada", "version": "4"}
    plan = plan_meta("1.0", KITSUNE_VRM1, EMPTY_VRM0, WEB, overrides, fallback_name="x")
    assert (plan.fields["vrm_name"], plan.fields["authors"], plan.fields["version"]) == ("Kit", ["Ada"], "4")
    assert plan.fields["copyright_information"] == "(c) Mika" and plan.fields["allow_redistribution"] is True
    legacy = plan_meta("0.x", EMPTY_VRM1, KITSUNE_VRM0, LEGACY, {"author": "Ada"}, fallback_name="x")
    assert legacy.fields["author"] == "Ada" and legacy.fields["title"] == "Kitsune"


def test_a_vrm0_model_exported_as_vrm0_keeps_every_field_untouched():
    plan = plan_meta("0.x", EMPTY_VRM1, KITSUNE_VRM0, LEGACY, {}, fallback_name="x")
    assert plan.fields == KITSUNE_VRM0
    assert [f.id for f in plan.findings] == [LICENSE_FINDING]


def test_a_vrm0_model_exported_as_vrm1_carries_its_meta_over():
    plan = plan_meta("1.0", EMPTY_VRM1, KITSUNE_VRM0, WEB, {}, fallback_name="x")
    fields = plan.fields
    assert fields["vrm_name"] == "Kitsune" and fields["version"] == "3.2"
    assert fields["authors"] == ["Mika Tanaka, Studio Fox Co., Ltd."]  # one string stays one author
    assert fields["contact_information"] == "mika@example.com"
    assert fields["references"] == ["https://example.com/kitsune"]
    # CC BY: redistribution and modification allowed, credit required; commercial use as the 0.x meta says.
    assert fields["allow_redistribution"] is True and fields["modification"] == "allowModificationRedistribution"
    assert fields["credit_notation"] == "required" and fields["commercial_usage"] == "personalProfit"
    assert fields["avatar_permission"] == "everyone" and fields["allow_excessively_violent_usage"] is True
    # VRM 0.x cannot say these: never looser than the source.
    assert fields["allow_political_or_religious_usage"] is False and fields["allow_antisocial_or_hate_usage"] is False
    assert [f.id for f in plan.findings] == [LICENSE_FINDING]


def test_vrm0_licenses_never_loosen_in_vrm1():
    def converted(**changes: str) -> dict[str, Any]:
        return vrm0_to_vrm1(KITSUNE_VRM0 | changes)

    assert converted(license_name="Redistribution_Prohibited")["allow_redistribution"] is False
    assert converted(license_name="CC_BY_NC")["commercial_usage"] == "personalNonProfit"
    assert converted(license_name="CC_BY_ND")["modification"] == "prohibited"
    assert converted(license_name="CC0")["credit_notation"] == "unnecessary"
    other = converted(license_name="Other", other_license_url="https://example.com/l")
    assert other["allow_redistribution"] is False and other["other_license_url"] == "https://example.com/l"


def test_a_vrm1_model_exported_as_vrm0_names_its_license_and_keeps_its_texts():
    plan = plan_meta("0.x", KITSUNE_VRM1, EMPTY_VRM0, LEGACY, {}, fallback_name="x")
    fields = plan.fields
    assert fields["title"] == "Kitsune" and fields["author"] == "Mika Tanaka, Ren"
    assert fields["reference"] == "https://example.com/kitsune" and fields["contact_information"] == "mika@example.com"
    assert fields["license_name"] == "Other" and fields["other_license_url"] == "https://example.com/license"
    assert fields["allowed_user_name"] == "Everyone" and fields["commercial_ussage_name"] == "Allow"


def test_the_preset_license_in_vrm0_terms():
    fields = vrm1_to_vrm0(dataclasses.asdict(WEB) | {"other_license_url": ""})
    assert fields["license_name"] == "Redistribution_Prohibited" and fields["other_license_url"] == ""
    free = vrm1_to_vrm0(dataclasses.asdict(WEB) | {"allow_redistribution": True, "other_license_url": ""})
    assert free["license_name"] == "Other" and free["other_license_url"] == VRM1_LICENSE_URL
    assert fields["allowed_user_name"] == "OnlyAuthor" and fields["commercial_ussage_name"] == "Disallow"


@pytest.mark.parametrize("word", ["undefined", "Unknown", " null ", "None", "N/A"])
def test_placeholder_text_is_never_written(word):
    # Every place a tool leaves its placeholder in, in both specs' metas: none of it reaches the file.
    vrm1 = {**EMPTY_VRM1, "vrm_name": word, "version": word, "authors": [word]}
    vrm0 = {**EMPTY_VRM0, "title": word, "version": word, "author": word}
    for spec in ("1.0", "0.x"):
        plan = plan_meta(spec, vrm1, vrm0, WEB, {}, fallback_name="Companion-A")
        texts = [v for v in plan.fields.values() if isinstance(v, str)] + list(plan.fields.get("authors", []))
        parts = {part.strip().casefold() for text in texts for part in text.split(",")}
        assert word.strip().casefold() not in parts, (spec, plan.fields)


def test_a_model_with_both_metas_set_keeps_the_one_of_the_spec_it_is_exported_as():
    older = {**KITSUNE_VRM0, "title": "Kitsune (0.x)", "author": "Mika Tanaka"}
    vrm1 = plan_meta("1.0", KITSUNE_VRM1, older, WEB, {}, fallback_name="x").fields
    assert vrm1["vrm_name"] == "Kitsune" and vrm1["authors"] == ["Mika Tanaka", "Ren"]
    assert vrm1["third_party_licenses"] == "hair by Ren, CC BY"
    vrm0 = plan_meta("0.x", KITSUNE_VRM1, older, LEGACY, {}, fallback_name="x").fields
    assert vrm0["title"] == "Kitsune (0.x)" and vrm0["author"] == "Mika Tanaka" and vrm0["license_name"] == "CC_BY"


def test_a_tools_placeholders_are_empty_fields_not_the_authors_words():
    # The VRM Add-on's new armature carries "undefined" as its name, version and author.
    placeholder_vrm1 = {**EMPTY_VRM1, "vrm_name": "undefined", "version": "undefined", "authors": ["undefined"]}
    plan = plan_meta("1.0", placeholder_vrm1, EMPTY_VRM0, WEB, {}, fallback_name="Companion-A")
    assert plan.fields["vrm_name"] == "Companion-A" and plan.fields["version"] != "undefined"
    assert plan.fields["authors"] == list(WEB.authors)
    placeholder_vrm0 = {**EMPTY_VRM0, "title": "Undefined", "author": " undefined "}
    legacy = plan_meta("0.x", EMPTY_VRM1, placeholder_vrm0, LEGACY, {}, fallback_name="Companion-A")
    assert legacy.fields["title"] == "Companion-A" and legacy.fields["author"] == ", ".join(LEGACY.authors)


def test_what_an_imported_file_says_of_itself_fills_only_the_empty_name_and_authors():
    found = {"title": "Knight", "author": "Kim Modeller"}
    plan = plan_meta("1.0", EMPTY_VRM1, EMPTY_VRM0, WEB, {}, fallback_name="Knight-web", found=found)
    assert plan.fields["vrm_name"] == "Knight" and plan.fields["authors"] == ["Kim Modeller"]
    assert plan.fields["modification"] == WEB.modification and plan.findings == ()  # the preset's licence
    legacy = plan_meta("0.x", EMPTY_VRM1, EMPTY_VRM0, LEGACY, {}, fallback_name="x", found=found)
    assert legacy.fields["title"] == "Knight" and legacy.fields["author"] == "Kim Modeller"
    # A title alone (an FBX without document info: its file name) leaves the authors to the preset.
    named = plan_meta("1.0", EMPTY_VRM1, EMPTY_VRM0, WEB, {}, fallback_name="x", found={"title": "Knight"})
    assert named.fields["authors"] == list(WEB.authors)
    # The model's own meta and the overrides come first.
    kept = plan_meta("1.0", KITSUNE_VRM1, EMPTY_VRM0, WEB, {}, fallback_name="x", found=found)
    assert kept.fields["vrm_name"] == KITSUNE_VRM1["vrm_name"] and kept.fields["authors"] == KITSUNE_VRM1["authors"]
    over = plan_meta("1.0", EMPTY_VRM1, EMPTY_VRM0, WEB, {"name": "N", "author": "A"}, fallback_name="x", found=found)
    assert over.fields["vrm_name"] == "N" and over.fields["authors"] == ["A"]
