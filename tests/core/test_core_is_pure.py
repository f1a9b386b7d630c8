"""addon/core must run without Blender: the promoter's container and the unit tests import it bare."""

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "addon" / "core"
BLENDER_MODULES = {"bpy", "bmesh", "mathutils", "addon_utils", "bpy_extras", "gpu", "bl_math", "idprop"}


def test_no_core_module_imports_blender_or_reaches_outside_core():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > len(path.relative_to(CORE).parts):
                    offenders.append(f"{path.name}: relative import leaves core")
                names = [(node.module or "").split(".")[0]] if node.level == 0 else []
            else:
                continue
            offenders += [f"{path.name}: imports {n}" for n in names if n in BLENDER_MODULES]
    assert offenders == []


def test_every_core_module_imports_with_blender_missing():
    modules = sorted(
        ".".join(p.relative_to(CORE).with_suffix("").parts).removesuffix(".__init__") for p in CORE.rglob("*.py")
    )
    code = (
        "import sys\n"
        f"for name in {sorted(BLENDER_MODULES)!r}: sys.modules[name] = None\n"
        f"for m in {modules!r}: __import__('addon.core.' + m if m != '__init__' else 'addon.core')\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=CORE.parents[1], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
