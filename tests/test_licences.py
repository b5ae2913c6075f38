"""Every dependency carries a permissive licence: no AGPL, no ELv2, no SSPL."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("AGPL", "AFFERO", "ELASTIC LICENSE", "ELV2", "SSPL", "SERVER SIDE PUBLIC")


def licence_text(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    licence = meta.get("License") or ""
    # Some wheels paste whole licence files (numpy quotes the GPL's section on the AGPL for a
    # bundled runtime library); the declared licence is the first line of such a text.
    licence = licence if len(licence) < 300 else licence.splitlines()[0]
    parts = [licence, meta.get("License-Expression") or ""]
    parts += [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    return " ".join(parts).upper()


def test_python_dependencies_are_permissive():
    offenders = [
        f"{d.metadata['Name']}: {licence_text(d)[:80]}"
        for d in metadata.distributions()
        if any(word in licence_text(d) for word in FORBIDDEN)
    ]
    assert offenders == []
    names = {(d.metadata["Name"] or "").lower() for d in metadata.distributions()}
    assert "snekmate" not in names  # AGPL-3.0


def test_npm_dependencies_are_permissive():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    seen = 0
    offenders = []
    for path in lock["packages"]:
        if not path:
            continue
        manifest = ROOT / path / "package.json"
        if not manifest.exists():
            continue
        seen += 1
        licence = str(json.loads(manifest.read_text()).get("license", "")).upper()
        if any(word in licence for word in FORBIDDEN):
            offenders.append(f"{path}: {licence}")
    assert seen >= 3
    assert offenders == []
