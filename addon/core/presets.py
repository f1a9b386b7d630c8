"""Export presets: one TOML file per target, shipped in addon/presets/ or written by the user into
Blender's config folder (a user preset with a shipped name replaces it).

A preset fixes the VRM spec version, the meta defaults, the budgets the rig check measures against, the
largest texture size written (in the exported copy only), the exporter options, the thumbnail and, in an
optional [web] table, how the file is packed for downloading.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from .errors import InputError

SHIPPED_DIR: Final = Path(__file__).resolve().parent.parent / "presets"
VRM1_LICENSE_URL: Final = "https://vrm.dev/licenses/1.0/"
SpecVersion = Literal["1.0", "0.x"]
SPEC_VERSIONS: Final[tuple[SpecVersion, ...]] = ("1.0", "0.x")
# The size the rig check's units fix gives an avatar no unit explains (its largest extent), and the range a
# preset may choose it in: every figure of usual proportions then has its head 0.5 to 2.5 m from its feet.
DEFAULT_TARGET_HEIGHT_M: Final = 1.6
TARGET_HEIGHT_RANGE_M: Final = (1.0, 2.5)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

_META_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "avatar_permission": ("onlyAuthor", "onlySeparatelyLicensedPerson", "everyone"),
    "commercial_usage": ("personalNonProfit", "personalProfit", "corporation"),
    "credit_notation": ("required", "unnecessary"),
    "modification": ("prohibited", "allowModification", "allowModificationRedistribution"),
}
_META_FLAGS: Final = (
    "allow_redistribution",
    "allow_excessively_violent_usage",
    "allow_excessively_sexual_usage",
    "allow_political_or_religious_usage",
    "allow_antisocial_or_hate_usage",
)
_EXPORT_FLAGS: Final = ("export_invisibles", "export_only_selections", "export_all_influences")
_BUDGETS: Final = ("triangles", "materials", "bones", "texture_size", "textures", "file_size_mb")


class PresetError(InputError, ValueError):
    """A preset that does not exist or does not parse; the message is one line for the user."""


@dataclass(frozen=True)
class Budgets:
    triangles: int
    materials: int
    bones: int
    texture_size: int
    textures: int
    file_size_mb: float


@dataclass(frozen=True)
class Meta:
    authors: tuple[str, ...]
    license_url: str
    avatar_permission: str
    commercial_usage: str
    credit_notation: str
    modification: str
    allow_redistribution: bool
    allow_excessively_violent_usage: bool
    allow_excessively_sexual_usage: bool
    allow_political_or_religious_usage: bool
    allow_antisocial_or_hate_usage: bool


@dataclass(frozen=True)
class ExportOptions:
    export_invisibles: bool
    export_only_selections: bool
    export_all_influences: bool
    # Normals in each morph target: expressions shade as they deform, at about 60% more file (VRM 1.0 only).
    morph_normals: bool = True


TEXTURE_CHOICES: Final = ("keep", "webp", "webp-lossless")


@dataclass(frozen=True)
class WebDelivery:
    """How the written file is packed for downloading (see core/vrm/webpack): geometry quantized and meshopt
    compressed (three.js then needs GLTFLoader.setMeshoptDecoder), textures as WebP."""

    geometry: bool
    textures: str  # one of TEXTURE_CHOICES
    webp_quality: int = 90
    texture_fallback: bool = False  # keep each texture's PNG/JPEG beside its WebP
    thumbnail_jpeg: bool = False  # the thumbnail as JPEG (its transparency on white)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    spec_version: SpecVersion
    thumbnail: bool
    max_texture_size: int
    budgets: Budgets
    meta: Meta
    export: ExportOptions
    source: Path = field(compare=False)
    target_height_m: float = DEFAULT_TARGET_HEIGHT_M
    web: WebDelivery | None = None  # None: the file as the exporter writes it

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "spec_version": self.spec_version,
            "thumbnail": self.thumbnail,
            "max_texture_size": self.max_texture_size,
            "target_height_m": self.target_height_m,
            "budgets": vars(self.budgets),
            "meta": {**vars(self.meta), "authors": list(self.meta.authors)},
            "export": vars(self.export),
            "source": str(self.source),
            "web": vars(self.web) if self.web else None,
        }


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise PresetError(f"{where}: missing [{key}] table")
    return value


def _typed(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    # bool is an int in Python; a budget of `true` is a typo, not 1.
    if value is None or not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise PresetError(f"{where}: '{key}' must be a {expected}")
    return value


def parse_preset(text: str, source: Path) -> Preset:
    """A preset from TOML text; raises PresetError naming the file and the bad key."""
    where = source.name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{where}: not valid TOML ({exc})") from None
    name = _typed(data, "name", str, where)
    if not _NAME.fullmatch(name):
        raise PresetError(f"{where}: name '{name}' must be lower-case letters, digits and dashes")
    spec = next((v for v in SPEC_VERSIONS if v == _typed(data, "spec_version", str, where)), None)
    if spec is None:
        raise PresetError(f"{where}: spec_version must be one of {', '.join(SPEC_VERSIONS)}")
    budgets_t = _table(data, "budgets", where)
    meta_t = _table(data, "meta", where)
    export_t = _table(data, "export", where)
    budgets = Budgets(
        **{k: _typed(budgets_t, k, (int, float) if k == "file_size_mb" else int, where) for k in _BUDGETS}
    )
    if any(v <= 0 for v in vars(budgets).values()):
        raise PresetError(f"{where}: budgets must be positive")
    for key, choices in _META_CHOICES.items():
        if _typed(meta_t, key, str, where) not in choices:
            raise PresetError(f"{where}: meta.{key} must be one of {', '.join(choices)}")
    authors = _typed(meta_t, "authors", list, where)
    if not authors or not all(isinstance(a, str) and a.strip() for a in authors):
        raise PresetError(f"{where}: meta.authors must list at least one name")
    license_url = _typed(meta_t, "license_url", str, where)
    if spec == "1.0" and license_url != VRM1_LICENSE_URL:
        # three-vrm refuses any other licenseUrl in a VRM 1.0 file.
        raise PresetError(f"{where}: meta.license_url must be {VRM1_LICENSE_URL} for VRM 1.0")
    meta = Meta(
        authors=tuple(authors),
        license_url=license_url,
        **{k: meta_t[k] for k in _META_CHOICES},
        **{k: _typed(meta_t, k, bool, where) for k in _META_FLAGS},
    )
    # Optional, so that presets written before it keep loading with the exporter's old behaviour.
    morph_normals = _typed(export_t, "morph_normals", bool, where) if "morph_normals" in export_t else True
    if not morph_normals and spec != "1.0":
        raise PresetError(f"{where}: export.morph_normals = false needs spec_version 1.0 (the VRM 0.x writer has none)")
    max_texture = _typed(data, "max_texture_size", int, where)
    if max_texture < 1 or max_texture & (max_texture - 1):
        raise PresetError(f"{where}: max_texture_size must be a power of two")
    # Optional too: presets written before it get the default.
    target = float(_typed(data, "target_height_m", (int, float), where)) if "target_height_m" in data else None
    low, high = TARGET_HEIGHT_RANGE_M
    if target is not None and not low <= target <= high:
        raise PresetError(f"{where}: target_height_m must be {low:g} to {high:g} (metres)")
    web = _web(data["web"], where) if "web" in data else None
    return Preset(
        name=name,
        description=_typed(data, "description", str, where),
        spec_version=spec,
        thumbnail=_typed(data, "thumbnail", bool, where),
        max_texture_size=max_texture,
        budgets=budgets,
        meta=meta,
        export=ExportOptions(
            **{k: _typed(export_t, k, bool, where) for k in _EXPORT_FLAGS}, morph_normals=morph_normals
        ),
        source=source,
        target_height_m=DEFAULT_TARGET_HEIGHT_M if target is None else target,
        web=web,
    )


def _web(table: Any, where: str) -> WebDelivery:
    """The optional [web] table: packing for download."""
    if not isinstance(table, dict):
        raise PresetError(f"{where}: [web] must be a table")
    unknown = sorted(set(table) - {f for f in WebDelivery.__dataclass_fields__})
    if unknown:
        raise PresetError(f"{where}: unknown key web.{unknown[0]}")
    textures = _typed(table, "textures", str, where)
    if textures not in TEXTURE_CHOICES:
        raise PresetError(f"{where}: web.textures must be one of {', '.join(TEXTURE_CHOICES)}")
    quality = _typed(table, "webp_quality", int, where) if "webp_quality" in table else 90
    if not 1 <= quality <= 100:
        raise PresetError(f"{where}: web.webp_quality must be 1 to 100")
    flags = {k: _typed(table, k, bool, where) for k in ("texture_fallback", "thumbnail_jpeg") if k in table}
    return WebDelivery(_typed(table, "geometry", bool, where), textures, quality, **flags)


def load_presets(user_dir: Path | None = None) -> dict[str, Preset]:
    """Shipped presets, then the user's (same name: the user's wins), by name in name order."""
    found: dict[str, Preset] = {}
    for folder in (SHIPPED_DIR, user_dir):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            preset = parse_preset(path.read_text(encoding="utf-8"), path)
            found[preset.name] = preset
    return dict(sorted(found.items()))


def get_preset(name: str, user_dir: Path | None = None) -> Preset:
    presets = load_presets(user_dir)
    if name not in presets:
        raise PresetError(f"unknown preset '{name}'; known: {', '.join(presets) or 'none'}")
    return presets[name]
