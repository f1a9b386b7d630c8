"""The meta an export writes, for VRM 1.0 and mapped to VRM 0.x (no bpy)."""

from __future__ import annotations

import dataclasses

from addon.core.presets import VRM1_LICENSE_URL, get_preset
from addon.core.vrm_meta import vrm0_meta, vrm1_meta


def test_vrm1_meta_carries_name_version_authors_and_the_preset_license():
    meta = get_preset("companions-web").meta
    data = vrm1_meta(meta, "Companion A", "2", ("Ada", "Bo"))
    assert data["vrm_name"] == "Companion A" and data["version"] == "2" and data["authors"] == ["Ada", "Bo"]
    assert data["avatar_permission"] == "onlyAuthor" and data["commercial_usage"] == "personalNonProfit"
    assert data["modification"] == "prohibited" and data["allow_redistribution"] is False


def test_vrm0_meta_without_redistribution_uses_its_own_license_name():
    data = vrm0_meta(get_preset("vrm0-legacy").meta, "Companion A", "2", ("Ada", "Bo"))
    assert data["title"] == "Companion A" and data["author"] == "Ada, Bo"
    assert data["allowed_user_name"] == "OnlyAuthor"
    assert data["commercial_ussage_name"] == "Disallow"
    assert data["violent_ussage_name"] == data["sexual_ussage_name"] == "Disallow"
    assert data["license_name"] == "Redistribution_Prohibited" and data["other_license_url"] == ""


def test_vrm0_meta_names_the_vrm_license_by_url_when_redistribution_is_allowed():
    meta = dataclasses.replace(
        get_preset("vrm0-legacy").meta,
        allow_redistribution=True,
        avatar_permission="everyone",
        commercial_usage="corporation",
        allow_excessively_violent_usage=True,
    )
    data = vrm0_meta(meta, "A", "1", ("Ada",))
    assert data["license_name"] == "Other" and data["other_license_url"] == VRM1_LICENSE_URL
    assert data["allowed_user_name"] == "Everyone" and data["commercial_ussage_name"] == "Allow"
    assert data["violent_ussage_name"] == "Allow"
