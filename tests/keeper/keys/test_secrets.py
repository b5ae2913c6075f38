"""PIN files: read only when private to this process user; their values never leak."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keeper.keys.secrets import PinSource, write_secret_file


def _pin_file(tmp_path: Path, mode: int) -> Path:
    path = write_secret_file(tmp_path / "secrets" / "user-pin", "0123456789abcdef")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_pin_file_readable_by_others_is_refused(tmp_path, mode):
    path = _pin_file(tmp_path, mode)
    with pytest.raises(PermissionError, match="group or others") as refused:
        PinSource(file=path).read()
    assert "0123456789abcdef" not in str(refused.value)


def test_private_pin_file_is_read(tmp_path):
    path = _pin_file(tmp_path, 0o600)
    assert PinSource(file=path).read().reveal() == "0123456789abcdef"
    assert PinSource(file=path).read().reveal() == path.read_text()


def test_pin_file_through_a_symlink_is_refused(tmp_path):
    path = _pin_file(tmp_path, 0o600)
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(PermissionError, match="symlink"):
        PinSource(file=link).read()


def test_existing_secret_file_readable_by_others_is_not_kept(tmp_path):
    """Set-up refuses to reuse a PIN others could have read (it must be rotated)."""
    path = _pin_file(tmp_path, 0o644)
    with pytest.raises(PermissionError, match="group or others"):
        write_secret_file(path)


def test_missing_pin_message_names_the_sources_only(tmp_path, monkeypatch):
    monkeypatch.delenv("STRONGROOM_TEST_PIN", raising=False)
    with pytest.raises(LookupError, match="STRONGROOM_TEST_PIN"):
        PinSource(env="STRONGROOM_TEST_PIN", file=tmp_path / "absent").read()
