"""The VRM meta an export writes. A model's own meta is its author's: every field it has is kept, the preset
fills only the empty ones, --name/--author/--version (and the export panel) replace theirs explicitly, and a
preset whose licence differs from the model's gives a finding instead of a rewrite.

Metas are plain dicts keyed by the VRM Add-on's property names: its VRM 1.0 meta (`vrm_name`, `authors`
as a list, `references` as a list...) and its VRM 0.x meta (`title`, `author`, `license_name`...). A model
exported to the other spec version gets its meta converted, the licence never looser than the source's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..presets import VRM1_LICENSE_URL, Meta
from ..rig.findings import Finding

Fields = dict[str, Any]

FIRST_VERSION: Final = "1"  # the version of a model exported for the first time
LICENSE_FINDING: Final = "meta_license_differs"

VRM1_TEXT: Final = ("vrm_name", "version", "copyright_information", "contact_information", "third_party_licenses")
VRM1_LISTS: Final = ("authors", "references")
# The armature's custom property holding what an imported file said of itself outside any VRM meta (an
# FBX header's document title and author, else the file's name as the title): {"title", "author"}.
SOURCE_META: Final = "avatar_forge_source_meta"
VRM1_LICENSE: Final = (
    "avatar_permission",
    "commercial_usage",
    "credit_notation",
    "modification",
    "allow_redistribution",
    "allow_excessively_violent_usage",
    "allow_excessively_sexual_usage",
    "allow_political_or_religious_usage",
    "allow_antisocial_or_hate_usage",
    "other_license_url",
)
VRM0_TEXT: Final = ("title", "version", "author", "contact_information", "reference")
VRM0_LICENSE: Final = (
    "allowed_user_name",
    "violent_ussage_name",
    "sexual_ussage_name",
    "commercial_ussage_name",
    "other_permission_url",
    "license_name",
    "other_license_url",
)
VRM1_FIELDS: Final = VRM1_TEXT + VRM1_LISTS + VRM1_LICENSE
VRM0_FIELDS: Final = VRM0_TEXT + VRM0_LICENSE

_VRM0_USER: Final = {
    "onlyAuthor": "OnlyAuthor",
    "onlySeparatelyLicensedPerson": "ExplicitlyLicensedPerson",
    "everyone": "Everyone",
}
_VRM1_USER: Final = {v0: v1 for v1, v0 in _VRM0_USER.items()}
# VRM 0.x licence name -> what it grants in VRM 1.0 terms. "Other" grants nothing beyond its URL.
_CC_REDISTRIBUTABLE: Final = ("CC0", "CC_BY", "CC_BY_NC", "CC_BY_SA", "CC_BY_NC_SA", "CC_BY_ND", "CC_BY_NC_ND")


def _allow(flag: bool) -> str:
    return "Allow" if flag else "Disallow"


# What tools write when they have no value (the VRM Add-on's new armature says "undefined"): never kept.
PLACEHOLDERS: Final = frozenset({"undefined", "unknown", "null", "none", "n/a"})


def given(value: Any) -> str:
    """A meta text as the author gave it, or "" for an empty field or a tool's placeholder."""
    text = value.strip() if isinstance(value, str) else ""
    return "" if text.casefold() in PLACEHOLDERS else text


def is_set(fields: Mapping[str, Any]) -> bool:
    """Whether a meta belongs to a model: it has a name or an author (an untouched one has only defaults)."""
    names = (given(fields.get("vrm_name")), given(fields.get("title")), given(fields.get("author")))
    return any(names) or any(given(a) for a in fields.get("authors", ()))


def preset_vrm1(meta: Meta) -> Fields:
    """The preset's licence as VRM 1.0 meta fields."""
    fields: Fields = {key: getattr(meta, key) for key in VRM1_LICENSE if key != "other_license_url"}
    fields["other_license_url"] = ""
    return fields


def vrm1_to_vrm0(fields: Mapping[str, Any]) -> Fields:
    """VRM 1.0 meta fields in VRM 0.x terms: one author string and coarser permissions.

    Without redistribution VRM 0.x's own "Redistribution_Prohibited" says it; otherwise the licence is named
    as "Other" by its URL (the model's own other licence, else the VRM Public License the 1.0 fields describe).
    """
    out: Fields = {}
    if "vrm_name" in fields:
        out["title"] = fields["vrm_name"]
    if "authors" in fields:
        out["author"] = ", ".join(a for a in fields["authors"] if a)
    if "references" in fields:
        out["reference"] = ", ".join(r for r in fields["references"] if r)
    for key in ("version", "contact_information"):
        if key in fields:
            out[key] = fields[key]
    redistributable = bool(fields["allow_redistribution"])
    out |= {
        "allowed_user_name": _VRM0_USER[fields["avatar_permission"]],
        "violent_ussage_name": _allow(fields["allow_excessively_violent_usage"]),
        "sexual_ussage_name": _allow(fields["allow_excessively_sexual_usage"]),
        "commercial_ussage_name": _allow(fields["commercial_usage"] != "personalNonProfit"),
        "other_permission_url": "",
        "license_name": "Other" if redistributable else "Redistribution_Prohibited",
        "other_license_url": (fields.get("other_license_url") or VRM1_LICENSE_URL) if redistributable else "",
    }
    return out


def vrm0_to_vrm1(fields: Mapping[str, Any]) -> Fields:
    """VRM 0.x meta fields in VRM 1.0 terms, never granting more than the 0.x licence did: what VRM 0.x
    cannot say (political or antisocial use) is disallowed, as UniVRM's migration does."""
    license_name = str(fields["license_name"])
    cc = license_name in _CC_REDISTRIBUTABLE
    commercial = fields["commercial_ussage_name"] == "Allow" and "_NC" not in license_name
    if license_name == "CC0":
        modification = "allowModificationRedistribution"
    elif not cc or license_name.endswith("_ND"):
        modification = "prohibited"
    else:
        modification = "allowModificationRedistribution"
    return {
        "vrm_name": fields["title"],
        "version": fields["version"],
        "authors": [fields["author"]] if fields["author"] else [],  # one string: "Co., Ltd." is one author
        "copyright_information": "",
        "contact_information": fields["contact_information"],
        "references": [fields["reference"]] if fields["reference"] else [],
        "third_party_licenses": "",
        "avatar_permission": _VRM1_USER[fields["allowed_user_name"]],
        "commercial_usage": "personalProfit" if commercial else "personalNonProfit",
        "credit_notation": "unnecessary" if license_name == "CC0" else "required",
        "modification": modification,
        "allow_redistribution": cc,
        "allow_excessively_violent_usage": fields["violent_ussage_name"] == "Allow",
        "allow_excessively_sexual_usage": fields["sexual_ussage_name"] == "Allow",
        "allow_political_or_religious_usage": False,
        "allow_antisocial_or_hate_usage": False,
        "other_license_url": fields["other_license_url"] or fields["other_permission_url"],
    }


@dataclass(frozen=True)
class MetaPlan:
    """What an export writes into the target spec's meta, and what it found on the way."""

    fields: Fields
    findings: tuple[Finding, ...] = ()


def plan_meta(
    spec_version: str,
    vrm1: Mapping[str, Any],
    vrm0: Mapping[str, Any],
    preset: Meta,
    overrides: Mapping[str, str],
    *,
    fallback_name: str,
    preset_name: str = "",
    armature: str = "",
    found: Mapping[str, Any] | None = None,
) -> MetaPlan:
    """The meta to write for `spec_version` ("1.0" or "0.x") from the armature's VRM 1.0 and 0.x metas.

    The model's meta is the target spec's when set, else the other spec's, converted. Overrides ("name",
    "author", "version") replace; empty fields get what the imported file said of itself (`found`, see
    SOURCE_META: a title and author), then the preset's authors, `fallback_name` (the file's name) and
    FIRST_VERSION; a model without any meta gets the preset's licence.
    """
    fields_of: tuple[str, ...]
    if spec_version == "1.0":
        own, other, convert, name_key = vrm1, vrm0, vrm0_to_vrm1, "vrm_name"
        fields_of, preset_license = VRM1_FIELDS, preset_vrm1(preset)
    else:
        own, other, convert, name_key = vrm0, vrm1, vrm1_to_vrm0, "title"
        fields_of = VRM0_FIELDS
        preset_license = vrm1_to_vrm0({**preset_vrm1(preset), "other_license_url": preset.license_url})
    if is_set(own):
        source: Fields | None = {key: own[key] for key in fields_of}
    elif is_set(other):
        source = convert(other)
    else:
        source = None
    findings: list[Finding] = []
    if source is None:
        fields: Fields = dict(preset_license)
    else:
        fields = dict(source)
        differ = [key for key, value in preset_license.items() if not key.endswith("_url") and fields[key] != value]
        if differ:
            findings.append(_license_finding(differ, fields, preset_license, preset_name, armature))
    said = found or {}
    authors = [overrides["author"]] if overrides.get("author") else _authors(source) or _authors(said)
    authors = authors or list(preset.authors)
    fields[name_key] = (
        overrides.get("name") or given((source or {}).get(name_key)) or given(said.get("title")) or fallback_name
    )
    fields["version"] = overrides.get("version") or given((source or {}).get("version")) or FIRST_VERSION
    if spec_version == "1.0":
        fields["authors"] = authors
    else:
        fields["author"] = ", ".join(authors)
    return MetaPlan(fields, tuple(findings))


def _authors(source: Mapping[str, Any] | None) -> list[str]:
    if not source:
        return []
    if "authors" in source:
        return [given(a) for a in source["authors"] if given(a)]
    return [given(source["author"])] if given(source.get("author")) else []


def _license_finding(
    keys: list[str], model: Mapping[str, Any], preset: Mapping[str, Any], preset_name: str, armature: str
) -> Finding:
    shown = ", ".join(f"{key} {model[key]!r} (preset: {preset[key]!r})" for key in keys)
    name = model.get("vrm_name") or model.get("title") or armature
    message = (
        f"'{name}' keeps its own licence, which differs from the preset '{preset_name}' in {shown}; "
        "change the VRM meta yourself if you hold the rights"
    )
    return Finding(LICENSE_FINDING, "warning", message, False, (armature,) if armature else ())
