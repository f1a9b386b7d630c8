"""`forge.py export-animation` and `forge.py publish-animation`: an action (or NLA strip) of the humanoid as
a VRM Animation (.vrma) clip, to a file or published as the next version under animations/."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from .cmd_publish import add_storage_arguments, checked_name, chosen_storage, progress, published
from .command import EXIT_PROBLEMS, Command, Result, UsageError
from .paths import new_output_path, open_given_blend

_FRAMES = re.compile(r"(-?\d{1,9})-(-?\d{1,9})")


def _add_clip_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--action", help="the action to export (default: the armature's current action)")
    what.add_argument("--strip", help="an NLA strip of the armature: its action over the strip's frames")
    parser.add_argument(
        "--frames", metavar="START-END", help="frame range (default: the strip's or the action's own keyed range)"
    )


def _frames(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    match = _FRAMES.fullmatch(text.strip())
    if not match:
        raise UsageError(f"--frames must be START-END in whole frames, like 1-48, not {text!r}")
    return int(match[1]), int(match[2])


def _clip(args: argparse.Namespace) -> dict[str, Any]:
    return {"action": args.action, "strip": args.strip, "frames": _frames(args.frames)}


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="the .vrma file to write")
    parser.add_argument("--armature", help="the armature (default: the one driving the most geometry)")
    _add_clip_arguments(parser)
    parser.add_argument("--force", action="store_true", help="replace --out when it exists")


def _export(args: argparse.Namespace) -> Result:
    from ..blender import animation_export, vrm_addon, vrm_export

    clip = _clip(args)
    out = new_output_path(args.out, ".vrma", args.force)
    open_given_blend(args)
    try:
        result = animation_export.export_clip(out, armature_name=args.armature, overwrite=args.force, **clip)
    except (vrm_addon.VrmAddonMissingError, LookupError, PermissionError) as exc:
        raise UsageError(str(exc)) from None
    except FileExistsError as exc:
        raise UsageError(f"{exc}; pass --force to replace it") from None
    except animation_export.ClipRefusedError as exc:
        report = exc.report.to_json()
        findings = [f"  {f['severity']}: {f['message']}" for f in report["findings"]]
        return Result({"exported": False, "reason": str(exc), **report}, [str(exc), *findings], EXIT_PROBLEMS)
    except vrm_export.ExportFailedError as exc:
        return Result({"exported": False, "reason": str(exc)}, [str(exc)], EXIT_PROBLEMS)
    c = result.clip.to_json()
    lines = [
        f"wrote {result.path} ({result.bytes / 1e3:.1f} kB, VRM Animation {result.spec_version}): {c['action']}, "
        f"frames {c['frame_start']}-{c['frame_end']} at {c['fps']:g} fps ({c['seconds']:.2f} s), "
        f"{len(c['bones'])} humanoid bones",
        f"sha256 {result.sha256}",
    ]
    return Result({"exported": True, **result.to_json()}, lines)


def _add_publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="clip name: letters, digits, '-', '_' (versions are added)")
    add_storage_arguments(parser)
    _add_clip_arguments(parser)


def _publish(args: argparse.Namespace) -> Result:
    name = checked_name(args)
    clip = _clip(args)
    target = chosen_storage(args)
    open_given_blend(args)
    from ..blender import publish

    return published(lambda: publish.publish_clip(name, target, armature_name=args.armature, progress=progress, **clip))


EXPORT_COMMAND = Command(
    "export-animation",
    "export the armature's action (or an NLA strip) as a VRM Animation .vrma clip (clip check first)",
    _add_export_arguments,
    _export,
    own_blend=True,
)
PUBLISH_COMMAND = Command(
    "publish-animation",
    "export a clip and publish it as the next version under animations/, queued for promotion",
    _add_publish_arguments,
    _publish,
    own_blend=True,
)
