"""The PKCS#11 module is only ever loaded from a file nobody else could have placed."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from keeper.keys.hsm import SOFTHSM_MODULE, ensure_local_token, load_module


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mapped_files() -> set[str]:
    """Files mapped into this process (what the dynamic loader really loaded)."""
    out = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/"):
            out.add(parts[5])
    return out


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The process temp dir, pointed at a test directory (as TMPDIR would)."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    return shared


def test_planted_library_at_the_old_shared_path_is_never_loaded(private_tmp, tmp_path):
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2-util not installed (apt softhsm2)")
    ensure_local_token(tmp_path / "first")  # the system module is now in use by this process
    conf = tmp_path / "second" / "hsm" / "softhsm2.conf"
    # another local user pre-creates the predictable cache dir and plants a library there
    cache = private_tmp / "strongroom-pkcs11"
    cache.mkdir()
    os.chmod(cache, 0o777)
    planted = cache / f"{hashlib.sha256(str(conf).encode()).hexdigest()[:16]}-{SOFTHSM_MODULE.name}"
    planted.write_bytes(SOFTHSM_MODULE.read_bytes() + b"planted")
    second = ensure_local_token(tmp_path / "second")
    assert second.conf == conf
    lib = load_module(second)
    loaded = Path(lib.so)
    mapped = _mapped_files()
    assert str(planted) not in mapped
    assert str(loaded) in mapped
    assert loaded != SOFTHSM_MODULE and loaded.parent != cache
    st = os.stat(loaded.parent)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == os.geteuid()
    assert not stat.S_IMODE(os.stat(loaded).st_mode) & 0o022
    assert _sha256(loaded) == _sha256(SOFTHSM_MODULE)
    # each private copy lives in its own freshly created directory
    third = ensure_local_token(tmp_path / "third")
    assert Path(load_module(third).so).parent != loaded.parent


def test_module_writable_by_others_is_refused(hsm_config, tmp_path):
    evil = tmp_path / "libevil.so"
    shutil.copy2(SOFTHSM_MODULE, evil)
    os.chmod(evil, 0o666)
    with pytest.raises(PermissionError, match="writable"):
        load_module(replace(hsm_config, module=evil, conf=tmp_path / "x.conf"))
    assert str(evil) not in _mapped_files()
