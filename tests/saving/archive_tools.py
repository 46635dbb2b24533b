"""Helpers that take .kerasish archives apart and put (tampered) ones back together for the tests."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile


def read_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def build_archive(members: dict[str, bytes] | list[tuple[str, bytes]], fix_metadata: bool = True) -> bytes:
    """A zip of ``members``; with ``fix_metadata`` the sha256/size table is recomputed, as an attacker could."""
    items = list(members.items()) if isinstance(members, dict) else list(members)
    if fix_metadata:
        names = dict(items)
        metadata = json.loads(names["metadata.json"])
        metadata["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                               for n, d in items if n != "metadata.json"}
        items = [(n, json.dumps(metadata).encode() if n == "metadata.json" else d) for n, d in items]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in items:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            archive.writestr(info, data)
    return out.getvalue()


def replace_members(data: bytes, changes: dict[str, bytes | None], fix_metadata: bool = True) -> bytes:
    """The archive with members replaced (``{name: bytes}``) or removed (``{name: None}``)."""
    members = read_members(data)
    for name, value in changes.items():
        if value is None:
            members.pop(name, None)
        else:
            members[name] = value
    return build_archive(members, fix_metadata)
