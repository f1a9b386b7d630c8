"""Sidebar panel: the humanoid rig (add the demo humanoid, check, fix, map bones). Draw only."""

from __future__ import annotations

from typing import Any, Literal

import bpy

from ..blender import vrm_addon
from ..blender.context import layout
from ..core.rig import humanoid
from .accessors import rig_state
from .panel_base import AvatarPanel
from .props_rig import AVATARFORGE_PG_rig_finding

Icon = Literal["CANCEL", "ERROR", "INFO", "DOT"]
SEVERITY_ICONS: dict[str, Icon] = {"error": "CANCEL", "warning": "ERROR", "info": "INFO"}


class AVATARFORGE_UL_rig_findings(bpy.types.UIList):
    def draw_item(  # noqa: PLR0917 (Blender's signature)
        self,
        context: bpy.types.Context,
        layout: bpy.types.UILayout,
        data: Any | None,
        item: Any | None,
        icon: int | None,
        active_data: Any,
        active_property: str | None,
        index: int | None,
        flt_flag: int | None,
    ) -> None:
        assert isinstance(item, AVATARFORGE_PG_rig_finding)
        row = layout.row(align=True)
        row.label(text=item.message, icon=SEVERITY_ICONS.get(item.severity, "DOT"))
        if item.fixable:
            text = "Fix…" if item.structural else "Fix"
            row.operator("avatar_forge.fix_rig_finding", text=text).finding_id = item.finding_id


class AVATARFORGE_PT_rig(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_rig"
    bl_label = "Rig"

    def draw(self, context: bpy.types.Context) -> None:
        col = layout(self).column()
        col.operator("avatar_forge.add_demo_avatar", icon="OUTLINER_OB_ARMATURE")
        col.operator("avatar_forge.import_avatar", icon="IMPORT")
        col.operator("avatar_forge.auto_rig", icon="ARMATURE_DATA")
        state = rig_state(context)
        row = col.row(align=True)
        row.operator("avatar_forge.check_rig", text="Re-check" if state.checked else "Check rig", icon="VIEWZOOM")
        row.operator("avatar_forge.fix_rig_all", icon="MODIFIER")
        if not state.checked:
            return
        verdict = "ready for VRM" if state.ok else "errors to fix"
        col.label(text=f"{state.armature or 'No armature'}: {verdict} ({state.mapped} bones mapped)",
                  icon="CHECKMARK" if state.ok else "CANCEL")  # fmt: skip
        if state.findings:
            col.template_list("AVATARFORGE_UL_rig_findings", "", state, "findings", state, "active", rows=4)
            active = state.findings[state.active] if 0 <= state.active < len(state.findings) else None
            if active is not None:
                box = col.box()
                for line in _wrap(active.message, 48):
                    box.label(text=line)
                if active.objects:
                    box.label(text=active.objects, icon="OBJECT_DATA")
        if state.armature not in bpy.data.objects or not vrm_addon.is_enabled():
            return
        armature = bpy.data.objects[state.armature]
        col.prop(state, "show_mapping", icon="TRIA_DOWN" if state.show_mapping else "TRIA_RIGHT")
        if state.show_mapping:
            _draw_mapping(col, armature)


def _draw_mapping(col: bpy.types.UILayout, armature: bpy.types.Object) -> None:
    """The VRM Add-on's own humanoid fields, so an edit here is what its exporter reads."""
    col.operator("avatar_forge.auto_map_bones", icon="GROUP_BONE")
    human_bones = armature.data.vrm_addon_extension.vrm1.humanoid.human_bones  # type: ignore[union-attr]
    required = humanoid.REQUIRED_VRM1
    for vrm in humanoid.HUMAN_BONES:
        node = getattr(human_bones, humanoid.snake_case(vrm)).node
        label = vrm + (" *" if vrm in required else "")
        col.prop_search(node, "bone_name", armature.data, "bones", text=label)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
