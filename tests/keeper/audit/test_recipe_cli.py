"""The export is checkable with standard tools exactly as RECIPE.md says (bash + jq + sha256sum,
python3 alone, openssl for the anchors), and the CLI's exit codes tell the outcome."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from keeper.audit import AuditRecord, AuditTrail, batch_records, unbatch
from keeper.audit.__main__ import main
from keeper.audit.records import record_hash

RECIPE = Path(__file__).resolve().parents[3] / "keeper" / "audit" / "RECIPE.md"


def _block(marker: str) -> str:
    for block in re.findall(r"```sh\n(.*?)```", RECIPE.read_text(), re.S):
        if marker in block:
            return block
    raise AssertionError(f"RECIPE.md has no sh block with {marker!r}")


def _tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"standard tools not installed: {missing}")


@pytest.fixture
def exported(trail: AuditTrail, tmp_path: Path) -> Path:
    trail.append([AuditRecord(f"user{i}", "api.call", {"name": "Zoë", "amount": str(10**24 + i)},
                              {"status": 200}) for i in range(1, 8)])
    out = tmp_path / "audit.jsonl"
    with open(out, "w") as fh:
        trail.export(fh)
    return out


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script, "recipe", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("tool", ["check-chain", "python3 -c"])
def test_recipe_checks_an_export_and_finds_the_edit(exported: Path, trail: AuditTrail, tool: str) -> None:
    _tools("jq", "sha256sum", "python3")
    script = _block(tool)
    if tool == "python3 -c":
        script = script.replace("audit.jsonl", '"$1"')
    ok = _run(script, str(exported), cwd=exported.parent)
    assert ok.returncode == 0, ok.stderr
    assert trail.verify().head.hash in ok.stdout
    lines = exported.read_text().splitlines()
    lines[3] = lines[3].replace('"user4"', '"userX"')
    exported.write_text("\n".join(lines) + "\n")
    bad = _run(script, str(exported), cwd=exported.parent)
    assert bad.returncode != 0
    assert "5" in bad.stdout + bad.stderr  # record 5 no longer links to the edited record 4


def test_openssl_verifies_an_anchor(exported: Path, trail: AuditTrail, anchor_signer, tmp_path: Path) -> None:
    _tools("jq", "openssl", "xxd", "base64")
    path = tmp_path / "anchors.jsonl"
    at = trail.anchor(anchor_signer, path)
    line = tmp_path / "line.json"
    line.write_text(path.read_text().splitlines()[0])
    done = _run(_block("check-anchor"), str(line), anchor_signer.public_key().hex(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Verified", "OK", str(at.seq), at.hash]
    assert record_hash(exported.read_text().splitlines()[at.seq - 1]) == at.hash
    forged = tmp_path / "forged.json"
    forged.write_text(line.read_text().replace(at.hash, "f" * 64))
    assert _run(_block("check-anchor"), str(forged), anchor_signer.public_key().hex(),
                cwd=tmp_path).returncode != 0


def test_cli_exit_codes(attacker, anchor_key, trail: AuditTrail, db_url: str, hsm_data: Path, tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRONGROOM_DATA", str(hsm_data))
    anchors = tmp_path / "anchors.jsonl"
    trail.append([AuditRecord("ops", "api.call", {"i": i}) for i in range(6)])
    assert main(["--db", db_url, "anchor", "--anchors", str(anchors), "--key-label", anchor_key]) == 0
    assert main(["--db", db_url, "verify", "--anchors", str(anchors), "--key-label", anchor_key]) == 0
    assert "OK: 6 records" in capsys.readouterr().out
    out = tmp_path / "export.jsonl"
    assert main(["--db", db_url, "export", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6
    attacker.attack(trail.engine, lambda rows: rows[:4])
    assert main(["--db", db_url, "verify", "--anchors", str(anchors), "--key-label", anchor_key]) == 1
    assert "first bad record seq 5" in capsys.readouterr().out
    assert main(["--db", db_url, "anchor", "--anchors", str(anchors), "--key-label", anchor_key]) == 1
    assert main(["--db", db_url, "verify", "--anchors", str(anchors), "--key-label", "no-such"]) == 2
    assert main(["--db", "sqlite:///" + str(tmp_path / "nope" / "x.db"), "verify"]) == 2


def test_cli_verify_with_a_missing_anchor_file_fails_to_run(trail: AuditTrail, db_url: str,
                                                            tmp_path: Path) -> None:
    trail.record("ops", "api.call")
    missing = tmp_path / "no-such-anchors.jsonl"
    assert main(["--db", db_url, "verify", "--anchors", str(missing), "--pubkey", "02" + "11" * 32]) == 2


def test_cli_exports_a_tampered_trail_faithfully(attacker, trail: AuditTrail, db_url: str,
                                                 tmp_path: Path) -> None:
    trail.append([AuditRecord("ops", "api.call", {"i": i}) for i in range(3)])
    attacker.attack(trail.engine, lambda rows: [(s, h, b.replace('"ops"', '"öps"') if s == 2 else b)
                                                for s, h, b in rows])
    out = tmp_path / "export.jsonl"
    assert main(["--db", db_url, "export", "--out", str(out)]) == 0  # the auditor gets the evidence
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and '"öps"' in lines[1]


def test_recipe_lists_a_batch_records_changes_one_by_one(trail: AuditTrail, tmp_path: Path) -> None:
    """The jq line of RECIPE.md gives back each change of a batch record exactly as
    :func:`keeper.audit.unbatch` does (and a plain record not at all)."""
    _tools("jq")
    recs = [AuditRecord("flows", "flows.order.create", {"order_id": f"o{i}"}, {"units": str(i)})
            for i in range(3)]
    trail.append(batch_records(recs) + [AuditRecord("api", "api.call", {}, {"status": 200})])
    out = tmp_path / "audit.jsonl"
    with open(out, "w") as fh:
        trail.export(fh)
    done = _run(_block("rtrimstr"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    first = json.loads(out.read_text().splitlines()[0])["record"]
    assert got == unbatch(first)
    assert [(g["operation"], g["params"], g["result"]) for g in got] == [
        (r.operation, r.params, r.result) for r in recs]
