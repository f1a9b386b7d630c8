"""What every panel of the sidebar tab "Avatar" shares."""

from __future__ import annotations

import bpy

CATEGORY = "Avatar"


class AvatarPanel(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY
