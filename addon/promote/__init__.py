"""The promoter: moves verified models and animation clips from the promotion queue to the serving tiers with rclone.

It imports no bpy (and nothing from addon/blender), so it runs in a small container with Python and rclone.
"""
