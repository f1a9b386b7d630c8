"""The artist's publish choices (saved with the .blend, on the Scene: never a secret) and the last
publish's result (runtime only, on the WindowManager)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty


class AVATARFORGE_PG_publish_settings(bpy.types.PropertyGroup):
    name: StringProperty(  # type: ignore[valid-type]
        name="Name",
        description="Model name (letters, digits, '-', '_'); each publish adds the next version: Name-v1, Name-v2",
        default="",
    )
    kind: EnumProperty(  # type: ignore[valid-type]
        name="What",
        description="Publish the avatar, or the armature's current action as a VRM Animation clip",
        items=[
            ("model", "Avatar", "The avatar as a .vrm with the export preset, under exports/"),
            ("animation", "Animation clip", "The armature's current action as a .vrma clip, under animations/"),
        ],
        default="model",
    )
    destination: EnumProperty(  # type: ignore[valid-type]
        name="To",
        description="Where the model goes (folder and bucket are set in the add-on preferences)",
        items=[
            ("root", "Storage root", "The storage root folder: the Kasm /s3 mount of the avatars bucket"),
            ("s3", "S3", "Straight to S3 at the endpoint, bucket and prefix of the preferences"),
        ],
        default="root",
    )


class AVATARFORGE_PG_publish_result(bpy.types.PropertyGroup):
    done: BoolProperty()  # type: ignore[valid-type]
    published: BoolProperty()  # type: ignore[valid-type]
    message: StringProperty()  # type: ignore[valid-type]
    version: IntProperty()  # type: ignore[valid-type]
    size_mb: FloatProperty()  # type: ignore[valid-type]
    where: StringProperty()  # type: ignore[valid-type]
