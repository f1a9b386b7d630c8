"""The VRM meta an export writes: the preset's license fields plus name, version and authors, in the
shape of the VRM Add-on's VRM 1.0 meta and, mapped from it, its VRM 0.x meta.
"""

from __future__ import annotations

from typing import Any, Final

from .presets import Meta

_VRM0_ALLOWED_USER: Final = {
    "onlyAuthor": "OnlyAuthor",
    "onlySeparatelyLicensedPerson": "ExplicitlyLicensedPerson",
    "everyone": "Everyone",
}


def _allow(flag: bool) -> str:
    return "Allow" if flag else "Disallow"


def vrm1_meta(meta: Meta, name: str, version: str, authors: tuple[str, ...]) -> dict[str, Any]:
    """VRM 1.0 meta fields by the add-on's property names (the license URL is fixed by the spec)."""
    return {
        "vrm_name": name,
        "version": version,
        "authors": list(authors),
        "avatar_permission": meta.avatar_permission,
        "commercial_usage": meta.commercial_usage,
        "credit_notation": meta.credit_notation,
        "modification": meta.modification,
        "allow_redistribution": meta.allow_redistribution,
        "allow_excessively_violent_usage": meta.allow_excessively_violent_usage,
        "allow_excessively_sexual_usage": meta.allow_excessively_sexual_usage,
        "allow_political_or_religious_usage": meta.allow_political_or_religious_usage,
        "allow_antisocial_or_hate_usage": meta.allow_antisocial_or_hate_usage,
    }


def vrm0_meta(meta: Meta, name: str, version: str, authors: tuple[str, ...]) -> dict[str, Any]:
    """VRM 0.x meta fields by the add-on's property names, mapped from the preset's VRM 1.0-style fields.

    VRM 0.x has one author string and coarser permissions. Without redistribution its own
    "Redistribution_Prohibited" license says it; otherwise the VRM Public License the 1.0 fields describe
    is named as the "Other" license by its URL (importers ask the user to confirm such a URL).
    """
    redistributable = meta.allow_redistribution
    return {
        "title": name,
        "version": version,
        "author": ", ".join(authors),
        "allowed_user_name": _VRM0_ALLOWED_USER[meta.avatar_permission],
        "violent_ussage_name": _allow(meta.allow_excessively_violent_usage),
        "sexual_ussage_name": _allow(meta.allow_excessively_sexual_usage),
        "commercial_ussage_name": _allow(meta.commercial_usage != "personalNonProfit"),
        "license_name": "Other" if redistributable else "Redistribution_Prohibited",
        "other_license_url": meta.license_url if redistributable else "",
    }
