"""Where published models go: one interface (base.Storage), a filesystem root (the Kasm /s3 rclone mount)
and S3. Nothing here imports bpy; the publish path runs the same with or without Blender."""
