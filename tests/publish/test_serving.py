"""What the serving tiers give a frontend: per-tier URLs, kinds, thumbnails as their own immutable files and
the VRM meta in index.json; immutable caching on the S3 tiers; and the generated ES module resolving every
promoted model and clip on the LAN and remotely (in node). The promoter runs without Blender, as in its
container; the kasm bucket and the mirror are `rclone serve s3`, NFS and R2 local stand-in folders."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_forge
from tests.publish import test_promote
from tests.publish.samples import make_vrm, make_vrma, tiny_png, with_thumbnail
from tests.publish.test_promote import Promotion

promotion = test_promote.promotion  # the promote tests' fixture: real S3 servers and stand-in tiers

pytestmark = pytest.mark.slow  # every test promotes through real S3 servers: half a minute in all

LAN_URL = "/assets/models/"
CDN_URL = "https://assets.example.com/models/"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def served(promotion: Promotion, tmp_path: Path) -> Promotion:
    """The promotion with the tiers' client URLs configured, a model with a thumbnail and a clip published."""
    text = promotion.config.read_text()
    text = text.replace(f'remote = "{promotion.nfs}"', f'remote = "{promotion.nfs}"\nurl = "{LAN_URL}"')
    text = text.replace(f'remote = "{promotion.r2}"', f'remote = "{promotion.r2}"\nurl = "{CDN_URL}"')
    promotion.config.write_text(text)
    assert promotion.publish("Companion-A", with_thumbnail(make_vrm(salt="a"), tiny_png(7))) == 1
    clip = tmp_path / "Wave.vrma"
    clip.write_bytes(make_vrma())
    done = subprocess.run(
        [sys.executable, "-m", "tests.publish.publisher", "--name", "Wave", "--vrm", str(clip), "--blend",
         str(promotion.vrm_dir / "source.blend"), "--kind", "animation", "--s3", promotion.source_url,
         "--endpoint-url", promotion.kasm.endpoint],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = promotion.promote("--once", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["counts"] == {"promoted": 2}
    return promotion


def _index(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "index.json").read_bytes()))


def test_each_tier_lists_urls_kinds_thumbnails_and_meta_and_old_readers_still_read_models(served):
    png = tiny_png(7)
    for folder, base in ((served.nfs, LAN_URL), (served.r2, CDN_URL)):
        index = _index(folder)
        assert index["format"] == "avatar-forge/index@2"
        (model,) = index["models"]
        (clip,) = index["animations"]
        assert (model["kind"], model["url"]) == ("model", f"{base}Companion-A-v1.vrm")
        assert (clip["kind"], clip["url"]) == ("animation", f"{base}animations/Wave-v1.vrma")
        assert model["meta"] == {"title": "samplea", "authors": ["tests"], "license": "https://vrm.dev/licenses/1.0/"}
        assert model["thumbnail"] == {
            "file": "Companion-A-v1.png", "url": f"{base}Companion-A-v1.png", "mime_type": "image/png",
            "sha256": hashlib.sha256(png).hexdigest(), "size": len(png),
        }  # fmt: skip
        assert (folder / "Companion-A-v1.png").read_bytes() == png
        # What an index@1 reader takes from it: "models", each a name, version and .vrm file.
        assert [(m["name"], m["version"], m["file"]) for m in index["models"]] == [
            ("Companion-A", 1, "Companion-A-v1.vrm")
        ]
    mirror = json.loads(served.mirror_files()["index.json"])
    assert "url" not in mirror["models"][0] and mirror["models"][0]["thumbnail"]["file"] == "Companion-A-v1.png"


def test_the_s3_tier_serves_models_clips_and_thumbnails_immutable_and_index_json_revalidated(served):
    client = served.mirror.client()
    for key in ("Companion-A-v1.vrm", "animations/Wave-v1.vrma", "Companion-A-v1.png"):
        assert client.head_object(Bucket=served.mirror_bucket, Key=key)["CacheControl"] == IMMUTABLE, key
    index_head = client.head_object(Bucket=served.mirror_bucket, Key="index.json")
    assert "immutable" not in index_head["CacheControl"] and index_head["CacheControl"] == "no-cache"


def test_a_lost_index_is_rebuilt_with_thumbnails_meta_and_urls(served):
    before = _index(served.r2)
    (served.r2 / "index.json").unlink()
    run = served.promote("--once", "--json")
    assert run.code == 0, run.stderr
    assert sorted(run.json()["repaired"]["r2"]) == ["Companion-A-v1.vrm", "animations/Wave-v1.vrma"]
    after = _index(served.r2)
    for kind in ("models", "animations"):
        assert [{k: v for k, v in e.items() if k != "promoted_at"} for e in after[kind]] == [
            {k: v for k, v in e.items() if k != "promoted_at"} for e in before[kind]
        ]


def _resolve(module: Path, served: Promotion, files: list[str], lan: Path | None = None) -> dict[str, Any]:
    tiers = {LAN_URL: str(lan or served.nfs), CDN_URL: str(served.r2)}
    done = subprocess.run(
        ["node", "serving_resolve.mjs", str(module), json.dumps(tiers), *files],
        cwd=ROOT / "tests" / "node", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout, done.stderr[-2000:]
    return dict(json.loads(done.stdout))


def test_the_generated_module_resolves_every_promoted_model_and_clip_on_the_lan_and_remotely(served, tmp_path):
    module = tmp_path / "avatar-assets.js"
    made = run_forge("serving-module", "--config", served.config, "--out", module, "--json", without_bpy=True)
    assert made.code == 0, made.stderr
    assert made.json()["tiers"] == {"lan": LAN_URL, "remote": CDN_URL}
    again = run_forge("serving-module", "--config", served.config, "--out", module, without_bpy=True)
    assert again.code == 2 and "exists" in again.stderr

    resolved = _resolve(module, served, ["Companion-A-v1.vrm", "Wave-v1.vrma", "Companion-A-v9.vrm"])
    assert resolved["lan"]["Companion-A-v1.vrm"] == f"{LAN_URL}Companion-A-v1.vrm"
    assert resolved["remote"]["Companion-A-v1.vrm"] == f"{CDN_URL}Companion-A-v1.vrm"
    assert resolved["lan"]["Wave-v1.vrma"] == f"{LAN_URL}animations/Wave-v1.vrma"
    assert resolved["remote"]["Wave-v1.vrma"] == f"{CDN_URL}animations/Wave-v1.vrma"
    assert "not promoted to the lan tier" in resolved["lan"]["Companion-A-v9.vrm"]["error"]
    assert resolved["indexes"]["remote"]["models"][0]["thumbnail"]["url"] == f"{CDN_URL}Companion-A-v1.png"
    # One index read per tier however many files are resolved, never from a cache.
    assert [r["url"] for r in resolved["requested"]].count(f"{LAN_URL}index.json") == 2  # resolve + loadIndex
    assert {r["cache"] for r in resolved["requested"]} == {"no-cache"}


def test_the_module_reads_an_index_written_before_urls_and_animations(served, tmp_path):
    module = tmp_path / "avatar-assets.js"
    assert run_forge("serving-module", "--config", served.config, "--out", module, without_bpy=True).code == 0
    old = tmp_path / "old-tier"
    old.mkdir()
    entry = {"name": "Old", "version": 3, "file": "Old-v3.vrm", "sha256": "0" * 64, "size": 1, "promoted_at": "x"}
    (old / "index.json").write_text(json.dumps({"format": "avatar-forge/index@1", "models": [entry]}))
    resolved = _resolve(module, served, ["Old-v3.vrm"], lan=old)
    assert resolved["lan"]["Old-v3.vrm"] == f"{LAN_URL}Old-v3.vrm"
    assert resolved["indexes"]["lan"]["models"][0]["kind"] == "model"
    assert resolved["indexes"]["lan"]["animations"] == []


@pytest.mark.parametrize("url", ["assets/models/", "ftp://host/models/", "https://host/models", "//host/m/"])
def test_a_target_url_that_no_client_can_use_is_refused_with_one_line(promotion, url):
    text = promotion.config.read_text().replace(
        f'remote = "{promotion.nfs}"', f'remote = "{promotion.nfs}"\nurl = "{url}"'
    )
    promotion.config.write_text(text)
    run = promotion.promote("--once")
    assert run.code == 2 and "'url' must be" in run.stderr and "Traceback" not in run.stderr
