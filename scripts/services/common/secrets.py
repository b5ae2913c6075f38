"""Reading a service's secrets (API key, admin token, webhook secret) from their 0600 files."""

from __future__ import annotations

from pathlib import Path

from keeper.keys.secrets import read_private_file

MIN_SECRET_CHARS = 16


def read_secret(path: Path) -> str:
    """A secret from its 0600 file, refused (naming the file, never the value) when shorter than
    :data:`MIN_SECRET_CHARS`: an empty admin token or API key would let anyone in."""
    value = read_private_file(path)
    if len(value) < MIN_SECRET_CHARS:
        raise SystemExit(f"secret file {path} must hold at least {MIN_SECRET_CHARS} characters")
    return value
