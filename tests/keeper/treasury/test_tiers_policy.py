"""The tier policy file: the shipped default loads with spec 6.3's numbers; anything not strictly
valid (floats, booleans, strings for numbers, unknown keys or assets, shares not summing to
100 %, negative minimums, bad JSON) refuses to load with a message naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keeper.config import Settings
from keeper.treasury.moves import TierTarget
from keeper.treasury.tiers import PolicyError, load_policy, parse_policy, policy_from_settings
from keeper.treasury.tiers.policy import DEFAULT_POLICY_FILE


def default() -> dict[str, Any]:
    return json.loads(DEFAULT_POLICY_FILE.read_text())


def test_the_default_policy_is_spec_6_3() -> None:
    policy = policy_from_settings(Settings())
    assert set(policy.assets) == {"ETH", "USDC", "USDT", "BTC"}
    for asset in policy.assets.values():
        assert asset.targets() == [TierTarget("hot", 500, 200), TierTarget("warm", 1500, 200),
                                   TierTarget("cold", 8000, 200)]
    assert policy.hot_ceiling_cents == 10_000_000 * 100
    assert [policy.paying_tier(c) for c in (4_999_999, 5_000_000, 50_000_000, 50_000_001)] == [
        "hot", "warm", "warm", "cold"]
    assert policy.asset("ETH").minimum_units.hot == 10 * 10**18


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = data
    for p in parents:
        node = node[p]
    node[last] = value
    return data


@pytest.mark.parametrize(("path", "value", "says"), [
    ("assets.ETH.band_bps", 2.0, "assets.ETH.band_bps"),
    ("assets.ETH.band_bps", True, "assets.ETH.band_bps"),
    ("assets.USDC.targets_bps.hot", "500", "assets.USDC.targets_bps.hot"),
    ("assets.USDC.targets_bps.hot", 600, "sum to 10100"),
    ("assets.USDT.minimum_units.hot", -1, "assets.USDT.minimum_units.hot"),
    ("assets.BTC.band_bps", 6000, "assets.BTC.band_bps"),
    ("assets.DOGE", default()["assets"]["ETH"], "unknown asset"),
    ("assets.ETH.targets_bps.lukewarm", 0, "lukewarm"),
    ("assets.ETH.surprise", 1, "surprise"),
    ("hot_ceiling_cents", 1e9, "hot_ceiling_cents"),
    ("hot_ceiling_cents", 0, "hot_ceiling_cents"),
    ("payment_routing_cents.hot_below", 60_000_000, "hot_below exceeds cold_above"),
    ("version", 2, "version 2"),
    ("extra", {}, "extra"),
])
def test_a_bad_policy_is_refused_naming_the_field(path: str, value: Any, says: str) -> None:
    with pytest.raises(PolicyError, match="refused") as err:
        parse_policy(_set(default(), path, value), "test.json")
    assert says in str(err.value) and "test.json" in str(err.value)


def test_a_missing_target_and_a_missing_file_and_bad_json_are_refused(tmp_path: Path) -> None:
    data = default()
    del data["assets"]["ETH"]["targets_bps"]["cold"]
    with pytest.raises(PolicyError, match="assets.ETH.targets_bps.cold"):
        parse_policy(data)
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": NaN}')
    with pytest.raises(PolicyError, match="not valid JSON"):
        load_policy(bad)
    bad.write_text(json.dumps(default())[:-5])
    with pytest.raises(PolicyError, match="not valid JSON"):
        load_policy(bad)


def test_big_integers_stay_exact(tmp_path: Path) -> None:
    data = _set(default(), "assets.ETH.minimum_units.cold", 2**200)
    data["assets"]["ETH"]["minimum_units"]["hot"] = 10**30 + 1
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    eth = load_policy(path).asset("ETH")
    assert (eth.minimum_units.cold, eth.minimum_units.hot) == (2**200, 10**30 + 1)


def test_the_cli_refuses_a_bad_policy_file(tmp_path: Path, monkeypatch, capsys) -> None:
    from keeper.treasury.tiers.__main__ import main

    path = tmp_path / "policy.json"
    path.write_text(json.dumps(_set(default(), "assets.ETH.band_bps", 2.5)))
    monkeypatch.setenv("STRONGROOM_TREASURY_POLICY_FILE", str(path))
    assert main(["policy"]) == 2
    assert "assets.ETH.band_bps" in capsys.readouterr().err
    path.write_text(json.dumps(default()))
    assert main(["policy"]) == 0
    assert json.loads(capsys.readouterr().out)["assets"]["ETH"]["targets_bps"]["cold"] == 8000
