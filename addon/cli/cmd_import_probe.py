"""`forge.py import-probe MODEL`: imports one model into an empty scene, evaluates it and exits. Started by
import_avatar(probe=True) before a .blend is appended into a Blender someone works in (the sidebar, the
socket server): a file that crashes Blender crashes this process, not theirs."""

from __future__ import annotations

import argparse
from pathlib import Path

from .command import Command, Result, UsageError


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL", help="the model file to read")


def _run(args: argparse.Namespace) -> Result:
    import bpy

    from ..blender import avatar_import, vrm_addon

    bpy.ops.wm.read_homefile(use_empty=True)
    try:
        imported = avatar_import.import_avatar(args.model)
    except (ValueError, avatar_import.ImportFailedError, vrm_addon.VrmAddonMissingError) as exc:
        raise UsageError(str(exc)) from None
    bpy.context.evaluated_depsgraph_get()  # modifiers, shape keys and weights as the rig check will read them
    return Result(imported.to_json(), [f"read {imported.path.name}: armature {imported.armature}"])


COMMAND = Command("import-probe", "read a model in this process and exit (started before an import)", _add_arguments,
                  _run)  # fmt: skip
