"""Secret values (PINs, seeds) that refuse to show themselves in logs or reprs."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


class Secret:
    """Opaque holder for a secret string; ``repr``/``str`` never reveal the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the clear value; call only at the point of use (e.g. C_Login)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class PinSource:
    """Where a PIN comes from: an environment variable or a secret file (mode 0600).

    The environment variable wins when both are given and the variable is set.
    """

    env: str | None = None
    file: Path | None = None

    def read(self) -> Secret:
        """Read the PIN now; raises ``LookupError`` (without the value) when unavailable."""
        if self.env and os.environ.get(self.env):
            return Secret(os.environ[self.env])
        if self.file is not None and self.file.exists():
            return Secret(self.file.read_text().strip())
        raise LookupError(f"PIN not available from env={self.env!r} file={self.file!s}")


def write_secret_file(path: Path, value: str | None = None, nbytes: int = 16) -> Path:
    """Create ``path`` with mode 0600 holding ``value`` (random hex if None); keep if present."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if path.exists():
        return path
    data = value if value is not None else secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    return path
