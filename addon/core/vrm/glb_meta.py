"""Meta fields the VRM Add-on's exporter leaves out, put back into the exported GLB's JSON.

The add-on (4.10) reads a VRM 1.0 meta's `contactInformation` on import but never writes it on export:
without this a re-exported model would lose its author's contact.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import glb


def with_vrm1_meta(data: bytes, fields: Mapping[str, str]) -> bytes:
    """`data` (a VRM 1.0 GLB) with each non-empty field added to `VRMC_vrm.meta` where the file lacks it;
    the same bytes when nothing is missing. Raises glb.GlbError (a ValueError) on a broken container."""
    gltf, binary = glb.read(data)
    meta = gltf.get("extensions", {}).get("VRMC_vrm", {}).get("meta")
    missing = {key: value for key, value in fields.items() if value and meta is not None and key not in meta}
    if not missing:
        return data
    meta.update(missing)
    return glb.write(gltf, binary)
