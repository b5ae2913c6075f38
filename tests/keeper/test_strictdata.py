"""keeper.strictdata, the one home of strict data files, and the loaders that use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from keeper.strictdata import Strict, decode, faults
from keeper.treasury.tiers.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy


class _Two(Strict):
    units: int
    name: str


def test_decode_refuses_deep_nesting_duplicate_keys_and_nan_before_anything_else() -> None:
    assert decode('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    with pytest.raises(ValueError, match="nesting deeper than 3"):
        decode("[[[[1]]]]", max_depth=3)
    with pytest.raises(ValueError, match="nesting deeper than 16"):
        decode("[" * 200_000)  # the C decoder is never reached
    with pytest.raises(ValueError, match="'a' appears twice"):
        decode('{"a": 1, "a": 1}')
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="strict file"):
            decode(f'{{"a": {constant}}}')


def test_strict_models_refuse_floats_bools_strings_and_extras_and_faults_name_every_field() -> None:
    for bad in ({"units": 1.0, "name": "x"}, {"units": True, "name": "x"}, {"units": "1", "name": "x"},
                {"units": 1, "name": "x", "extra": 1}):
        with pytest.raises(ValidationError):
            _Two.model_validate(bad)
    with pytest.raises(ValidationError) as err:
        _Two.model_validate({"units": 1.5, "name": 3, "more": 0})
    said = faults(err.value)
    assert "units:" in said and "name:" in said and "more:" in said and said.count("; ") == 2


def test_the_policy_loader_refuses_a_deep_file_and_duplicate_keys(tmp_path: Path) -> None:
    """Before keeper.strictdata the policy loader let RecursionError out of a deep file and
    kept the last of two duplicate keys."""
    bad = tmp_path / "policy.json"
    bad.write_text("[" * 100_000)
    with pytest.raises(PolicyError, match="nesting deeper than"):
        load_policy(bad)
    text = DEFAULT_POLICY_FILE.read_text()
    data = json.loads(text)
    bad.write_text('{"version": ' + json.dumps(data["version"]) + ", " + text.strip()[1:])
    with pytest.raises(PolicyError, match="'version' appears twice"):
        load_policy(bad)
    assert load_policy(DEFAULT_POLICY_FILE).version == data["version"]
