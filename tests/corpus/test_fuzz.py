"""Mutated models through `forge.py convert` in one run: single-field edits of a .blend, single-byte edits of an
FBX and a GLB from the corpus, from a seeded RNG (the same files every run). Whatever a broken file does to
Blender, crashing it included, it fails that model alone: every model has its entry, the exit code is 1."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests import blend_fields
from tests.conftest import quick_preset_user, run_forge

pytestmark = pytest.mark.slow

SEED = 24
PER_FORMAT = 5  # 16 models with the crasher: about a minute, each in its own process
# The fields a reader trusts for sizes and links; most other fields of a .blend change nothing when mutated.
STRUCTS = {"Mesh", "Object", "bArmature", "Bone", "CustomData", "CustomDataLayer", "bDeformGroup", "Key", "KeyBlock"}


def _blend_mutations(source: Path, rng: random.Random, count: int) -> list[bytes]:
    data = blend_fields.uncompressed(source.read_bytes())
    fields = [f for f in blend_fields.number_fields(data) if f.struct in STRUCTS]
    made = []
    for _ in range(count):
        field = rng.choice(fields)
        old = blend_fields.get_field(data, field)
        made.append(blend_fields.set_field(data, field, rng.choice([0, -1, old + 1, old * 2 + 7, 1 << 20])))
    return made


def _byte_mutations(source: Path, rng: random.Random, count: int) -> list[bytes]:
    data = source.read_bytes()
    made = []
    for _ in range(count):
        edited = bytearray(data)
        edited[rng.randrange(len(data))] = rng.randrange(256)
        made.append(bytes(edited))
    return made


def test_mutated_models_fail_alone_and_every_one_is_reported(corpus: Path, tmp_path: Path):
    rng = random.Random(SEED)
    models = tmp_path / "models"
    models.mkdir()
    blend = corpus / "vrm_addon" / "basic_humanoid.blend"
    made = {"blend": _blend_mutations(blend, rng, PER_FORMAT),
            "fbx": _byte_mutations(corpus / "blender_fbx" / "classic_names.fbx", rng, PER_FORMAT),
            "glb": _byte_mutations(corpus / "web" / "mixamo_centimetres.glb", rng, PER_FORMAT)}  # fmt: skip
    for suffix, files in made.items():
        for number, data in enumerate(files):
            (models / f"{suffix}{number:02d}.{suffix}").write_bytes(data)
    (models / "crash.blend").write_bytes(blend_fields.crashing(blend))
    out = tmp_path / "out"
    out.mkdir()

    result = run_forge("convert", models, "--out", out, "--preset", "quick", "--fix", "all", "--json",
                       user_resources=quick_preset_user(tmp_path / "user"), timeout=600)  # fmt: skip

    assert result.code == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)
    entries = {Path(e["input"]).name: e for e in report["models"]}
    assert sorted(entries) == sorted(p.name for p in models.iterdir())
    assert entries["crash.blend"]["error"] == "crash.blend: crashed (signal 11)"
    for name, entry in entries.items():
        assert entry["ok"] == (out / f"{Path(name).stem}.vrm").is_file(), name
        assert entry["ok"] or entry["error"], name
