"""Reading a service's secrets (API key, admin token, webhook secret) from their 0600 files."""

from __future__ import annotations

from pathlib import Path

from keeper.keys.secrets import read_private_file

MIN_SECRET_CHARS = 16


def read_secret(path: Path, min_chars: int = MIN_SECRET_CHARS) -> str:
    """A secret from its private file (0600, own, no symlink: else the service exits saying
    why), refused (naming the file, never the value) when shorter than ``min_chars``: an empty
    admin token or API key would let anyone in."""
    try:
        value = read_private_file(path)
    except PermissionError as exc:
        raise SystemExit(str(exc)) from None
    if len(value) < min_chars:
        raise SystemExit(f"secret file {path} must hold at least {min_chars} characters")
    return value
