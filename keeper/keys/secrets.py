"""Secret values (PINs, seeds) that refuse to show themselves in logs or reprs."""

from __future__ import annotations

import os
import secrets
import stat
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
        if self.file is not None and os.path.lexists(self.file):
            return Secret(read_private_file(self.file))
        raise LookupError(f"PIN not available from env={self.env!r} file={self.file!s}")


def read_private_file(path: Path) -> str:
    """Read a secret file (stripped) that only this process user can read or write.

    ``PermissionError`` (naming the file, never its content) for a symlink, a file owned by
    someone else or one with any group/other permission: such a secret must be rotated.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(path):
            raise PermissionError(f"secret file {path} is a symlink") from None
        raise PermissionError(f"secret file {path} cannot be opened: {exc.strerror}") from None
    with os.fdopen(fd) as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(f"secret file {path} is not a regular file of this user")
        if st.st_mode & 0o077:
            raise PermissionError(
                f"secret file {path} is open to group or others (mode "
                f"{stat.S_IMODE(st.st_mode):o}); chmod 600 and rotate the secret"
            )
        return fh.read().strip()


def write_secret_file(path: Path, value: str | None = None, nbytes: int = 16) -> Path:
    """Create ``path`` with mode 0600 holding ``value`` (random hex if None).

    An existing file is kept only if it is private to this user (see ``read_private_file``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if os.path.lexists(path):
        read_private_file(path)
        return path
    data = value if value is not None else secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    return path
