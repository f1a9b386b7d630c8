from pathlib import Path

import pytest

from addon.core import presets

SHIPPED = presets.SHIPPED_DIR / "companions-web.toml"


def test_shipped_presets_carry_the_targets_budgets():
    found = presets.load_presets()
    assert list(found) == ["companions-web", "companions-web-lite", "companions-web-uncompressed", "vrm0-legacy"]
    web, lite, legacy = found["companions-web"], found["companions-web-lite"], found["vrm0-legacy"]
    assert (web.budgets.triangles, web.budgets.materials, web.budgets.bones) == (32000, 8, 150)
    assert (web.budgets.texture_size, web.budgets.file_size_mb, web.spec_version) == (2048, 25, "1.0")
    assert (lite.budgets.triangles, lite.max_texture_size, lite.budgets.file_size_mb) == (15000, 1024, 10)
    assert legacy.spec_version == "0.x"
    assert web.meta.license_url == "https://vrm.dev/licenses/1.0/"


def test_a_user_preset_replaces_a_shipped_one_of_the_same_name(tmp_path: Path):
    (tmp_path / "mine.toml").write_text(SHIPPED.read_text().replace("triangles = 32000", "triangles = 1234"))
    found = presets.load_presets(tmp_path)
    assert found["companions-web"].budgets.triangles == 1234
    assert found["companions-web"].source == tmp_path / "mine.toml"
    assert found["companions-web-lite"].budgets.triangles == 15000


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('spec_version = "1.0"', 'spec_version = "2.0"', "spec_version must be one of"),
        ("triangles = 32000", 'triangles = "many"', "'triangles' must be a int"),
        ("triangles = 32000", "triangles = true", "'triangles' must be a int"),
        ("max_texture_size = 2048", "max_texture_size = 1000", "power of two"),
        ('license_url = "https://vrm.dev/licenses/1.0/"', 'license_url = "https://example.com"', "license_url"),
        ('commercial_usage = "personalNonProfit"', 'commercial_usage = "free"', "meta.commercial_usage"),
        ('name = "companions-web"', 'name = "../evil"', "name '../evil'"),
        ("[export]", "[exports]", "missing [export] table"),
        ("[budgets]", "[budgets", "not valid TOML"),
        ("target_height_m = 1.6", "target_height_m = 0.4", "target_height_m must be 1 to 2.5"),
        ("target_height_m = 1.6", 'target_height_m = "tall"', "'target_height_m' must be a int or float"),
        ('textures = "webp"', 'textures = "avif"', "web.textures must be one of keep, webp, webp-lossless"),
        ("webp_quality = 90", "webp_quality = 0", "web.webp_quality must be 1 to 100"),
        ("geometry = true", "geometry = 1", "'geometry' must be a bool"),
        ("thumbnail_jpeg = true", "thumbnail_jpg = true", "unknown key web.thumbnail_jpg"),
    ],
)
def test_a_broken_preset_is_refused_with_the_file_and_key_named(tmp_path: Path, old: str, new: str, message: str):
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new))
    with pytest.raises(presets.PresetError, match=r"broken\.toml") as err:
        presets.load_presets(tmp_path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_preset_lists_the_known_ones():
    known = "known: companions-web, companions-web-lite, companions-web-uncompressed, vrm0-legacy"
    with pytest.raises(presets.PresetError, match=known):
        presets.get_preset("nope")


def test_morph_normals_are_on_for_companions_web_and_off_for_lite():
    found = presets.load_presets()
    assert found["companions-web"].export.morph_normals is True
    assert found["companions-web-lite"].export.morph_normals is False
    assert found["vrm0-legacy"].export.morph_normals is True


def test_a_preset_without_morph_normals_keeps_them_and_a_bad_value_is_refused(tmp_path: Path):
    older = SHIPPED.read_text().replace("morph_normals = true", "")
    assert presets.parse_preset(older, tmp_path / "old.toml").export.morph_normals is True
    with pytest.raises(presets.PresetError, match="'morph_normals' must be a bool"):
        presets.parse_preset(SHIPPED.read_text().replace("morph_normals = true", "morph_normals = 0"), SHIPPED)
    legacy = (
        (presets.SHIPPED_DIR / "vrm0-legacy.toml").read_text().replace("morph_normals = true", "morph_normals = false")
    )
    with pytest.raises(presets.PresetError, match=r"needs spec_version 1\.0"):
        presets.parse_preset(legacy, SHIPPED)


def test_the_target_height_is_the_presets_and_defaults_for_older_presets(tmp_path: Path):
    assert {p.target_height_m for p in presets.load_presets().values()} == {1.6}
    taller = presets.parse_preset(SHIPPED.read_text().replace("target_height_m = 1.6", "target_height_m = 2"), SHIPPED)
    assert taller.target_height_m == 2.0 and taller.to_json()["target_height_m"] == 2.0
    older = SHIPPED.read_text().replace("target_height_m = 1.6", "")
    assert presets.parse_preset(older, tmp_path / "old.toml").target_height_m == presets.DEFAULT_TARGET_HEIGHT_M


def test_web_presets_pack_for_download_and_the_uncompressed_twin_does_not():
    found = presets.load_presets()
    web, lite, plain = found["companions-web"], found["companions-web-lite"], found["companions-web-uncompressed"]
    for packed in (web, lite):
        assert packed.web == presets.WebDelivery(geometry=True, textures="webp", webp_quality=90, thumbnail_jpeg=True)
    assert plain.web is None and found["vrm0-legacy"].web is None
    # The uncompressed twin is companions-web in everything else.
    assert (plain.budgets, plain.meta, plain.export, plain.max_texture_size) == (
        web.budgets,
        web.meta,
        web.export,
        web.max_texture_size,
    )
    assert presets.parse_preset(SHIPPED.read_text().split("[web]")[0], SHIPPED).web is None
