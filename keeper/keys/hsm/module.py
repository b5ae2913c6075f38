"""Loading PKCS#11 modules: only from files nobody but root or this process user could place.

SoftHSM2 reads ``SOFTHSM2_CONF`` once, at ``C_Initialize``, per loaded library image; one
process that talks to two SoftHSM2 tokens with different configs (primary and backup)
therefore loads a private copy of the module for the second config. That copy lives in a
directory created fresh by ``tempfile.mkdtemp`` (mode 0700, owned by us), is written from the
bytes read from the source module and must hash to the same SHA-256 before it is loaded:
a file someone pre-planted at a predictable shared path can never be picked up.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pkcs11

from keeper.keys.hsm.config import HsmConfig

_LIBS: dict[tuple[str, str | None], Any] = {}
_USED_PATHS: set[str] = set()
_PRIVATE_DIRS: list[str] = []
_LOAD_LOCK = threading.RLock()


def _check_source(module: Path) -> bytes:
    """Read the module, refusing a file root or we do not own or others may write."""
    fd = os.open(module, os.O_RDONLY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise PermissionError(f"PKCS#11 module {module} is not a regular file")
        if st.st_uid not in (0, os.geteuid()):
            raise PermissionError(f"PKCS#11 module {module} is owned by uid {st.st_uid}")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(f"PKCS#11 module {module} is writable by group or others")
        return fh.read()


def _private_copy(module: Path, data: bytes) -> str:
    """Write ``data`` into a fresh 0700 directory of ours; return the verified copy's path."""
    want = hashlib.sha256(data).hexdigest()
    directory = tempfile.mkdtemp(prefix="strongroom-pkcs11-")
    _PRIVATE_DIRS.append(directory)
    st = os.lstat(directory)
    if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid()
            or stat.S_IMODE(st.st_mode) != 0o700):
        raise PermissionError(f"private module directory {directory} is not ours/0700")
    copy = os.path.join(directory, module.name)
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o500)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    with open(copy, "rb") as fh:
        got = hashlib.sha256(fh.read()).hexdigest()
    if got != want:
        raise PermissionError(f"private copy of {module} does not match its source digest")
    return copy


@atexit.register
def _remove_private_copies() -> None:
    for directory in _PRIVATE_DIRS:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _softhsm_conf(config: HsmConfig) -> Iterator[None]:
    """Set ``SOFTHSM2_CONF`` for one ``C_Initialize`` (callers hold ``_LOAD_LOCK``)."""
    previous = os.environ.get("SOFTHSM2_CONF")
    try:
        if config.conf is not None:
            os.environ["SOFTHSM2_CONF"] = str(config.conf)
        yield
    finally:
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def load_module(config: HsmConfig) -> Any:
    """Load (once per module and config) the PKCS#11 module and return the ``pkcs11.lib``.

    The module must be a regular file owned by root or by this process user and not writable
    by group or others (``PermissionError`` otherwise). A second SoftHSM2 config gets a
    private, digest-checked copy (see the module docstring).
    """
    key = (str(config.module), str(config.conf) if config.conf else None)
    with _LOAD_LOCK:
        if key in _LIBS:
            return _LIBS[key]
        data = _check_source(config.module)
        path = str(config.module)
        if config.conf is not None and path in _USED_PATHS:
            path = _private_copy(config.module, data)
        with _softhsm_conf(config):
            lib = pkcs11.lib(path)
        _USED_PATHS.add(path)
        _LIBS[key] = lib
        return lib


def reinitialize_module(config: HsmConfig) -> None:
    """``C_Finalize`` + ``C_Initialize`` the module of ``config`` (after a token dropped out).

    Every session of that module is closed; their signers reconnect on their next operation.
    """
    lib = load_module(config)
    with _LOAD_LOCK, _softhsm_conf(config):
        lib.reinitialize()
