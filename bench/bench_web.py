#!/usr/bin/env python3
"""Web delivery: size and export time of companions-web (packed) beside companions-web-uncompressed, and
beside glTF-Transform's optimizer, the field's yardstick (which drops the VRM extensions).

    python bench/bench_web.py [--detail 1 20] [--repeat 3] [--corpus ../shared/corpus] [--no-corpus]

Needs `npm ci` in bench/gltf_transform (glTF-Transform's CLI 4.5.1, kept out of the tests).

For each demo detail, in this process, thumbnail off: the whole export with companions-web-uncompressed and
with companions-web (--repeat rounds, alternating, each after a full garbage collection; medians); Blender's
own glTF exporter writing a sparse GLB of the same scene; and that GLB through `gltf-transform optimize
--compress meshopt --texture-compress webp --simplify false`. For each third-party model of the corpus,
`forge.py convert` with both presets (--repeat rounds, alternating, in their own processes as convert runs;
medians), and the uncompressed VRM through the same optimizer. Ratios: our packed file over glTF-Transform's
(goal <= 1.1), over glTF-Transform's plus the VRM data it drops (the VRM extensions' JSON and the thumbnail
image, as our file stores them: the comparison on what both files carry), and the packed export's time over
the uncompressed export's (goal <= 1.3), as wall time and as CPU time (of the export, or of the whole convert
process), which other processes' load on a shared machine moves less.

Then where the time goes: for each model, the median seconds of each step of the export (the demo) or of
the conversion's export and packing (the corpus), and of each step of the packing.

Then what each part contributes, packing the uncompressed file step by step with core/vrm/webpack: the
exporter's file; its textures as WebP (thumbnail as JPEG); its geometry quantized; meshopt on top. And where
the gap to glTF-Transform is: for each model, the bytes each kind of data takes in our packed file and in
glTF-Transform's (the JSON, images, each vertex attribute, morph targets, indices).

    python bench/bench_web.py --gap OURS.vrm THEIRS.glb   # that table alone, for two files
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script (python bench/NAME.py), the checkout is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, start_blender

CLI = ROOT / "bench" / "gltf_transform" / "node_modules" / "@gltf-transform" / "cli" / "bin" / "cli.js"
# The packing's steps (Packed.stages), in the order they start; textures run on their own threads.
PACKING_STEPS = (
    "textures",
    "quantize",
    "geometry check",
    "waiting for textures",
    "meshopt",
    "meshopt decode and proof",
)
MODELS = ("vrm1_debug_robot.vrm", "vrm0_godette.vrm", "fbx_seedsan_univrm.fbx", "fbx_quaternius_female_casual.fbx")


def optimized(source: Path, out: Path) -> int:
    """The size glTF-Transform's optimizer (without simplification) makes of `source`."""
    command = ["node", str(CLI), "optimize", str(source), str(out), "--compress", "meshopt",
               "--texture-compress", "webp", "--simplify", "false"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"bench_web: gltf-transform failed on {source.name}: {done.stderr.strip()[-500:]}")
    return out.stat().st_size


def contributions(name: str, data: bytes) -> str:
    """One line: the file's size after each packing step, as a share of the exporter's file."""
    from addon.core.vrm import webpack

    steps = [
        ("WebP", webpack.PackOptions(geometry=False, webp=True, thumbnail_jpeg=True)),
        ("+quantized", webpack.PackOptions(geometry=True, webp=True, thumbnail_jpeg=True)),
    ]
    sizes = [("exporter", len(data))]
    for label, options in steps:
        packed = webpack.pack(data, options)
        if label == "+quantized":
            sizes.append(("+quantized", packed.figures["quantized_bytes"]))
            sizes.append(("+meshopt", len(packed.data)))
        else:
            sizes.append((label, len(packed.data)))
    cells = " ".join(f"{label} {size / 1e6:.2f} MB ({size / len(data):.0%})" for label, size in sizes)
    return f"  {name:<34} {cells}"


def _kinds(document: dict[str, Any]) -> dict[int, str]:
    """bufferView -> the kind of data in it ("POSITION", "morph NORMAL", "indices", "image/png"...)."""
    kinds: dict[int, str] = {}

    def name(accessor: int, kind: str) -> None:
        entry = document["accessors"][accessor]
        if "bufferView" in entry:
            kinds.setdefault(entry["bufferView"], kind)
        if "sparse" in entry:
            kinds.setdefault(entry["sparse"]["indices"]["bufferView"], "sparse indices")
            kinds.setdefault(entry["sparse"]["values"]["bufferView"], kind)

    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            for attribute, accessor in primitive.get("attributes", {}).items():
                name(accessor, attribute.rstrip("0123456789_"))
            for target in primitive.get("targets", []):
                for attribute, accessor in target.items():
                    name(accessor, f"morph {attribute}")
            if "indices" in primitive:
                name(primitive["indices"], "indices")
    for skin in document.get("skins", []):
        if "inverseBindMatrices" in skin:
            name(skin["inverseBindMatrices"], "inverse binds")
    for image in document.get("images", []):
        if "bufferView" in image:
            kinds.setdefault(image["bufferView"], f"image {image.get('mimeType', '')}".strip())
    return kinds


def stored_bytes(data: bytes) -> dict[str, int]:
    """Bytes of the file each kind of data takes as stored (compressed views at their compressed size)."""
    from addon.core.vrm import glb

    document, _binary = glb.read(data)
    found = {"JSON": glb.layout(io.BytesIO(data), len(data)).json_length}  # as the file spells it
    kinds = _kinds(document)
    for index, view in enumerate(document.get("bufferViews", [])):
        compressed = view.get("extensions", {}).get("EXT_meshopt_compression")
        if view.get("buffer", 0) != 0 and not compressed:
            continue  # the fallback buffer: no bytes in the file
        kind = kinds.get(index, "read by nothing")
        found[kind] = found.get(kind, 0) + (compressed or view)["byteLength"]
    return found


def vrm_bytes(data: bytes) -> int:
    """Bytes of the VRM data in a file as it stores them: the VRM extensions' JSON (VRM, VRMC_*, wherever
    they sit, with their names in extensionsUsed/Required) and the meta's thumbnail image."""
    from addon.core.vrm import glb

    document, _binary = glb.read(data)
    total = 0
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for name, value in node.get("extensions", {}).items():
                if name.startswith("VRM"):  # "name":value, and its comma
                    total += len(json.dumps({name: value}, ensure_ascii=False, separators=(",", ":")).encode()) - 1
            stack.extend(v for k, v in node.items() if k != "extensions")
            stack.extend(v for k, v in node.get("extensions", {}).items() if not k.startswith("VRM"))
        elif isinstance(node, list):
            stack.extend(node)
    for key in ("extensionsUsed", "extensionsRequired"):
        total += sum(len(name) + 3 for name in document.get(key, []) if name.startswith("VRM"))
    extensions = document.get("extensions", {})
    image = extensions.get("VRMC_vrm", {}).get("meta", {}).get("thumbnailImage")
    texture = extensions.get("VRM", {}).get("meta", {}).get("texture")
    if isinstance(texture, int) and 0 <= texture < len(document.get("textures", [])):
        image = document["textures"][texture].get("source")
    if isinstance(image, int) and "bufferView" in document.get("images", [])[image]:
        total += document["bufferViews"][document["images"][image]["bufferView"]]["byteLength"]
    return total


def yardstick_with_vrm(ours: bytes, theirs: bytes) -> int:
    """glTF-Transform's file's size plus the VRM data it dropped, as our file stores that data: the size of
    a file carrying what ours carries, at the yardstick's rate for everything else."""
    return len(theirs) + vrm_bytes(ours) - vrm_bytes(theirs)


def gap(name: str, ours: bytes, theirs: bytes) -> list[str]:
    """Lines: each kind of data's bytes in our packed file and in glTF-Transform's, the largest gap first."""
    a, b = stored_bytes(ours), stored_bytes(theirs)
    kinds = sorted(a.keys() | b.keys(), key=lambda k: b.get(k, 0) - a.get(k, 0))
    lines = [f"  {name}: ours {len(ours) / 1e3:.1f} kB, glTF-Transform {len(theirs) / 1e3:.1f} kB"]
    for kind in kinds:
        ka, kb = a.get(kind, 0) / 1e3, b.get(kind, 0) / 1e3
        lines.append(f"    {kind:<32} {ka:>9.1f} {kb:>9.1f} {ka - kb:>+9.1f} kB")
    return lines


@dataclass
class Timings:
    """Each round's seconds of one kind of run: wall, CPU, and named steps (the export's, the packing's)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)

    def add_steps(self, steps: dict[str, float]) -> None:
        for name, seconds in steps.items():
            self.steps.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        values: list[float] = getattr(self, name)
        return statistics.median(values)

    def step_line(self, label: str, names: list[str] | None = None) -> str:
        shown = [n for n in (names if names is not None else list(self.steps)) if n in self.steps]
        cells = ", ".join(f"{n} {statistics.median(self.steps[n]):.3f}" for n in shown)
        return f"    {label:<10} {cells}"


def _corpus_row(model: Path, out: Path, repeat: int) -> tuple[str, bytes, list[str], list[str]] | None:
    """`forge.py convert` with both presets (`repeat` rounds, alternating), and the plain file through the
    optimizer: the row, the plain file's bytes, the gap's lines and the time's lines (None when a conversion
    fails: it says why)."""
    files: dict[str, Path] = {}
    timings = {preset: Timings() for preset in ("companions-web-uncompressed", "companions-web")}
    for _round in range(repeat):
        for preset, timing in timings.items():
            files[preset] = out / f"{model.stem}.{preset}.vrm"
            command = [sys.executable, str(ROOT / "scripts" / "forge.py"), "convert", str(model), "--out",
                       str(files[preset]), "--preset", preset, "--fix", "safe", "--force", "--json"]  # fmt: skip
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
            timing.wall.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            timing.cpu.append(after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
            if done.returncode != 0:
                print(f"{model.name}: convert failed with {preset}: {_why(done.stdout)}", flush=True)
                return None
            export = json.loads(done.stdout)["models"][0]["export"]
            web = export.get("web") or {}
            timing.add_steps({"export": export["seconds"]} | ({"packing": web["seconds"]} if web else {}))
            timing.add_steps(web.get("stages", {}))
    plain, web = (files[p].stat().st_size for p in ("companions-web-uncompressed", "companions-web"))
    yard_file = out / f"{model.stem}.gltf-transform.glb"
    yard = optimized(files["companions-web-uncompressed"], yard_file)
    plain_t, web_t = timings["companions-web-uncompressed"], timings["companions-web"]
    with_vrm = yardstick_with_vrm(files["companions-web"].read_bytes(), yard_file.read_bytes())
    row = (
        f"{model.name:<34} {'':>8} {plain / 1e6:>8.2f} {web / 1e6:>7.2f} {'':>7} {yard / 1e6:>9.2f} "
        f"{web / yard:>10.2f} {with_vrm / 1e6:>9.2f} {web / with_vrm:>10.2f} "
        f"{plain_t.median('wall'):>7.2f} {web_t.median('wall'):>7.2f} "
        f"{web_t.median('wall') / plain_t.median('wall'):>5.2f} {web_t.median('cpu') / plain_t.median('cpu'):>5.2f}"
    )
    lines = gap(model.name, files["companions-web"].read_bytes(), yard_file.read_bytes())
    times = [
        f"  {model.name} (convert processes: plain {plain_t.median('wall'):.2f} s, web {web_t.median('wall'):.2f} s)",
        plain_t.step_line("plain", ["export"]),
        web_t.step_line("web", ["export", "packing"]),
        web_t.step_line("packing", list(PACKING_STEPS)),
    ]
    return row, files["companions-web-uncompressed"].read_bytes(), lines, times


def _demo_row(bpy: Any, detail: int, out: Path, repeat: int) -> tuple[str, bytes, list[str], list[str]]:
    """The demo avatar at `detail` exported with both presets (`repeat` rounds, alternating; medians), and
    Blender's sparse glTF of the same scene through the optimizer: the row, the plain file's bytes, the
    gap's lines and the time's lines."""
    from addon.blender import console, demo_avatar, vrm_export
    from addon.core.presets import get_preset

    bpy.ops.wm.read_homefile(use_empty=True)
    avatar = demo_avatar.build_demo_avatar(detail)
    vertices = len(avatar.body.data.vertices)  # type: ignore[union-attr]
    plain_preset = dataclasses.replace(get_preset("companions-web-uncompressed"), thumbnail=False)
    web_preset = dataclasses.replace(get_preset("companions-web"), thumbnail=False)
    plain_file, web_file = out / f"plain-{detail}.vrm", out / f"web-{detail}.vrm"
    gltf_file, yard_file = out / f"gltf-{detail}.glb", out / f"gltf-transform-{detail}.glb"
    plain_t, web_t, packing = Timings(), Timings(), Timings()
    for _round in range(repeat):
        for timing, preset, file in ((plain_t, plain_preset, plain_file), (web_t, web_preset, web_file)):
            # A full collection first: Blender's glTF exporter leaves about 60k objects in reference cycles
            # per export, and without it their collection lands in whichever run comes next.
            gc.collect()
            result, steps = _timed_export(vrm_export.export_vrm, file, preset)
            timing.wall.append(steps.pop("wall"))
            timing.cpu.append(steps.pop("cpu"))
            timing.add_steps(steps)
            if result.web is not None:
                packing.add_steps({"packing": result.web.seconds} | result.web.stages)
    with console.quiet(verbose=False):
        bpy.ops.export_scene.gltf(filepath=str(gltf_file), export_format="GLB", export_try_sparse_sk=True)
    yard = optimized(gltf_file, yard_file)
    plain, web, gltf = plain_file.stat().st_size, web_file.stat().st_size, gltf_file.stat().st_size
    with_vrm = yardstick_with_vrm(web_file.read_bytes(), yard_file.read_bytes())
    plain_s, web_s = plain_t.median("wall"), web_t.median("wall")
    row = (
        f"{f'demo avatar, detail {detail}':<34} {vertices:>8} {plain / 1e6:>8.2f} {web / 1e6:>7.2f} "
        f"{gltf / 1e6:>7.2f} {yard / 1e6:>9.2f} {web / yard:>10.2f} {with_vrm / 1e6:>9.2f} "
        f"{web / with_vrm:>10.2f} {plain_s:>7.2f} {web_s:>7.2f} {web_s / plain_s:>5.2f} "
        f"{web_t.median('cpu') / plain_t.median('cpu'):>5.2f}"
    )
    lines = gap(f"demo avatar, detail {detail}", web_file.read_bytes(), yard_file.read_bytes())
    times = [
        f"  demo avatar, detail {detail} (export: plain {plain_s:.3f} s, web {web_s:.3f} s)",
        plain_t.step_line("plain"),
        web_t.step_line("web"),
        packing.step_line("packing", ["packing", *PACKING_STEPS]),
    ]
    return row, plain_file.read_bytes(), lines, times


def _why(output: str) -> str:
    """The reason a `forge.py convert --json` gives for its failure, in one line."""
    try:
        model = json.loads(output)["models"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return output.strip()[-300:]
    return str(model.get("error") or (model.get("export") or {}).get("reason") or "no reason given")


def _timed_export(export: Any, file: Path, preset: Any) -> tuple[Any, dict[str, float]]:
    """One export: its result, and its wall and CPU seconds and each of its steps' wall seconds (from its
    progress calls, which name the step starting)."""
    marks: list[tuple[str, float]] = []
    started, cpu = time.perf_counter(), time.process_time()
    result = export(file, preset, overwrite=True, progress=lambda _f, what: marks.append((what, time.perf_counter())))
    ended = time.perf_counter()
    steps = {"wall": ended - started, "cpu": time.process_time() - cpu}
    for (what, at), (_next, until) in zip(marks, [*marks[1:], ("", ended)], strict=True):
        steps[what] = steps.get(what, 0.0) + until - at
    return result, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", type=int, nargs="*", default=[1, 20])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--gap", type=Path, nargs=2, metavar=("OURS", "THEIRS"), help="only the gap table")
    args = parser.parse_args()
    if args.gap:
        sys.path.insert(0, str(ROOT))
        print("\n".join(gap(args.gap[0].name, args.gap[0].read_bytes(), args.gap[1].read_bytes())))
        return 0
    if not CLI.is_file():
        raise SystemExit("bench_web: run `npm ci` in bench/gltf_transform first")
    bpy = start_blender("bench-web-")
    out = Path(tempfile.mkdtemp(prefix="bench-web-out-"))
    rows: list[str] = []
    parts: list[tuple[str, bytes]] = []
    gaps: list[str] = []
    times: list[str] = []
    header = f"{'model':<34} {'vertices':>8} {'plain MB':>8} {'web MB':>7} {'glTF MB':>7} {'gltf-t MB':>9}"
    header += f" {'web/gltf-t':>10} {'+VRM MB':>9} {'web/+VRM':>10} {'plain s':>7} {'web s':>7} {'time':>5} {'cpu':>5}"
    for detail in args.detail:
        row, plain_bytes, lines, timed = _demo_row(bpy, detail, out, args.repeat)
        rows.append(row)
        print(rows[-1], flush=True)
        parts.append((f"demo avatar, detail {detail}", plain_bytes))
        gaps += lines
        times += timed
    models = [] if args.no_corpus or not args.corpus.is_dir() else [args.corpus / m for m in MODELS]
    for model in [m for m in models if m.is_file()]:
        converted = _corpus_row(model, out, args.repeat)
        if converted is not None:
            rows.append(converted[0])
            parts.append((model.name, converted[1]))
            gaps += converted[2]
            times += converted[3]
            print(rows[-1], flush=True)
    _report(header, rows, times)
    print("\nWhat each part contributes (core/vrm/webpack on the plain file, cumulative):")
    for name, data in parts:
        print(contributions(name, data), flush=True)
    print("\nWhere the gap is (kB: our packed file, glTF-Transform's, the difference), the largest first:")
    print("\n".join(gaps))
    return 0


def _report(header: str, rows: list[str], times: list[str]) -> None:
    print("\nplain = companions-web-uncompressed, web = companions-web (packed), glTF = Blender's sparse GLB,")
    print("gltf-t = glTF-Transform 4.5.1 optimize (meshopt, WebP, no simplification: not a VRM any more);")
    print("demo: glTF-Transform on Blender's GLB, thumbnail off; corpus: on the plain VRM, thumbnail on,")
    print("times of whole `forge.py convert` processes. +VRM = gltf-t plus the VRM data it drops, as our web file")
    print("stores it (the VRM extensions' JSON and the thumbnail image): the yardstick on what both files carry.")
    print("time = web s / plain s (wall, medians of --repeat); cpu = the same runs' CPU seconds (medians), web")
    print("over plain (the demo: the export's, textures' thread included; the corpus: the convert processes').")
    print(header)
    print("\n".join(rows))
    print("\nWhere the time goes (median wall seconds; the demo: each step of the export as it reports them,")
    print("the corpus: the conversion's export, its packing included; then each step of the packing, textures")
    print("on their own threads beside quantize and the geometry check):")
    print("\n".join(times))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # bpy and the VRM Add-on can hang interpreter shutdown
