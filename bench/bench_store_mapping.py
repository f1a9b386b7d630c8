#!/usr/bin/env python3
"""Storing the automatic humanoid mapping in the VRM Add-on (convert's `mapping_not_stored` fix), on each
third-party avatar (`../shared/corpus`): the add-on's own way (its bone name setter, bone by bone, as its panel
does) beside map_humanoid, from the same fresh state (no bone mapped, no bone UUID, no candidates computed, as
after an import), and whether the add-on then holds the same: names, UUIDs, every bone's candidates and its
validation's messages (tests/rigs.py held_humanoid). One round each, in this process.

    python -m bench.bench_store_mapping [MODEL ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import start_blender

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SUFFIXES = {".vrm", ".glb", ".gltf", ".fbx", ".blend"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, help="default: every model of the shared corpus")
    models = parser.parse_args().models or sorted(p for p in CORPUS.glob("*") if p.suffix in SUFFIXES)
    if not models:
        sys.exit(f"bench: no models given and no corpus at {CORPUS}")
    bpy = start_blender("bench-store-mapping-")
    from addon.blender import avatar_import, rig_check, vrm_addon
    from addon.core.rig import humanoid
    from tests import rigs

    print(f"{'model':<36} {'bones':>5} {'mapped':>6} {'setter s':>8} {'ours s':>7} {'ratio':>6}  same", flush=True)
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-store-mapping-") as scratch:
        for model in models:
            copy = Path(scratch) / model.name
            shutil.copy2(model, copy)  # an importer never gets the chance to write beside the original
            bpy.ops.wm.read_homefile(use_empty=True)
            name = avatar_import.import_avatar(copy).armature
            assert name is not None
            rig_check.check_rig(name, fix="all")  # the mapping convert stores, on the rig its fixes leave
            armature = bpy.data.objects[name]
            mapping = vrm_addon.humanoid_mapping(armature)
            human_bones = armature.data.vrm_addon_extension.vrm1.humanoid.human_bones
            rigs.fresh_humanoid(armature)
            started = time.perf_counter()
            for vrm_bone, bone in mapping.items():
                getattr(human_bones, humanoid.snake_case(vrm_bone)).node.bone_name = bone
            setter = time.perf_counter() - started
            by_setter = rigs.held_humanoid(armature)
            rigs.fresh_humanoid(armature)
            started = time.perf_counter()
            vrm_addon.map_humanoid(armature, mapping)
            ours = time.perf_counter() - started
            same = rigs.held_humanoid(armature) == by_setter
            ratios.append(ours / setter)
            bones = len(armature.data.bones)
            print(
                f"{model.name:<36} {bones:>5} {len(mapping):>6} {setter:>8.2f} {ours:>7.2f} {ratios[-1]:>6.2f}  {same}"
            )
    print(f"median ratio over {len(models)} models: {statistics.median(ratios):.2f}x", flush=True)
    os._exit(0)  # bpy and the VRM Add-on can hang interpreter shutdown


if __name__ == "__main__":
    main()
