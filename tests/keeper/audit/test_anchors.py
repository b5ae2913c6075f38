"""Anchors signed inside SoftHSM2 catch what the chain alone cannot (records cut from the tail,
a chain rewritten wholesale); forged, foreign or removed anchors are reported; a tampered chain
is never anchored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keeper.audit import AnchorError, AuditRecord, AuditTrail
from keeper.audit.records import RECORD_AT
from keeper.keys import SoftwareSigner

N = 10


def _fill(trail: AuditTrail, n: int, start: int = 1) -> None:
    trail.append([AuditRecord(f"user{i}", "api.call", {"i": i}) for i in range(start, start + n)])


def test_anchored_trail_verifies(trail: AuditTrail, anchor_signer, tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    assert trail.anchor(anchor_signer, path).seq == 0  # an empty trail anchors GENESIS
    _fill(trail, N)
    at = trail.anchor(anchor_signer, path)
    assert at.seq == N
    report = trail.verify(path, anchor_signer.public_key())
    assert report.ok, report.summary()
    assert report.anchors == 2 and report.head == at
    lines = path.read_text().splitlines()
    assert json.loads(json.loads(lines[1])["statement"])["head"] == at.hash


def test_tail_cut_with_triggers_dropped_is_caught_by_the_anchor(attacker, trail: AuditTrail, anchor_signer,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _fill(trail, N)
    trail.anchor(anchor_signer, path)
    attacker.attack(trail.engine, lambda rows: rows[:7])  # head cache fixed too: the chain looks whole
    assert trail.verify().ok  # without the anchors nothing can tell
    report = trail.verify(path, anchor_signer.public_key())
    assert not report.ok and report.first_bad == 8
    assert "deleted from the tail" in report.first_problem().reason


def test_wholesale_rewrite_is_caught_between_anchors(attacker, trail: AuditTrail, anchor_signer,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _fill(trail, 4)
    trail.anchor(anchor_signer, path)
    _fill(trail, N - 4, start=5)
    trail.anchor(anchor_signer, path)

    def rewrite(rows):  # edit record 5 and recompute every later hash and link
        out, prev = rows[:4], rows[3][1]
        for seq, _h, body in rows[4:]:
            rec = body[RECORD_AT:body.rindex(',"seq":')]
            if seq == 5:
                rec = rec.replace('"actor":"user5"', '"actor":"mallory"')
            out.append(attacker.forge(prev, seq, rec))
            prev = out[-1][1]
        return out

    attacker.attack(trail.engine, rewrite)
    assert trail.verify().ok  # self-consistent: only the anchors know
    report = trail.verify(path, anchor_signer.public_key())
    assert not report.ok and report.first_bad == 5


def test_forged_foreign_and_removed_anchors_are_reported(trail: AuditTrail, anchor_signer,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    for k in range(3):
        _fill(trail, 2, start=2 * k + 1)
        trail.anchor(anchor_signer, path)
    pub = anchor_signer.public_key()
    lines = path.read_text().splitlines()

    altered = lines[0].replace('\\"seq\\":2', '\\"seq\\":1')
    assert altered != lines[0]
    path.write_text("\n".join([altered, *lines[1:]]) + "\n")
    report = trail.verify(path, pub)
    assert not report.ok and "not validly signed" in report.problems[0].reason

    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    report = trail.verify(path, pub)
    assert not report.ok and "does not chain" in report.problems[0].reason

    other = tmp_path / "other.jsonl"
    trail.anchor(SoftwareSigner(b"\x01" * 32), other)  # a key that is not the pinned one
    report = trail.verify(other, pub)
    assert not report.ok and report.anchors == 0

    path.write_text("\n".join(lines) + "\n")
    assert trail.verify(path, pub).ok


def test_a_tampered_chain_is_never_anchored(attacker, trail: AuditTrail, anchor_signer,
                                            tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _fill(trail, 4)
    trail.anchor(anchor_signer, path)
    _fill(trail, 4, start=5)
    attacker.attack(trail.engine, lambda rows: [(s, h, b.replace("user6", "userX") if s == 6 else b)
                                       for s, h, b in rows])
    before = path.read_bytes()
    with pytest.raises(AnchorError, match="seq 6"):
        trail.anchor(anchor_signer, path)
    assert path.read_bytes() == before


def test_a_malformed_anchor_file_is_reported_not_fatal(trail: AuditTrail, anchor_signer,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _fill(trail, 2)
    trail.anchor(anchor_signer, path)
    with open(path, "a") as fh:
        fh.write('{"sig":"!!","statement":"{}"}\nnot json\n')
    report = trail.verify(path, anchor_signer.public_key())
    assert not report.ok and report.anchors == 1
    assert [p.reason.split(" is ")[0] for p in report.problems] == ["anchor line 2", "anchor line 3"]


def test_a_missing_anchor_file_is_an_error_not_a_pass(trail: AuditTrail, anchor_signer,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _fill(trail, 3)
    trail.anchor(anchor_signer, path)
    path.unlink()  # deleted (or a typo in the path): nothing was checked, so nothing may pass
    with pytest.raises(FileNotFoundError):
        trail.verify(path, anchor_signer.public_key())


def test_anchors_of_a_rotated_key_verify_with_both_trusted_keys(trail: AuditTrail, anchor_signer,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    old = SoftwareSigner(b"\x03" * 32)  # the key before the rotation
    _fill(trail, 2)
    trail.anchor(old, path)
    _fill(trail, 2, start=3)
    trail.anchor(anchor_signer, path)  # the new HSM key picks up where the old one stopped
    new = anchor_signer.public_key()
    assert not trail.verify(path, new).ok  # the old anchor is not the new key's
    report = trail.verify(path, [old.public_key(), new])
    assert report.ok and report.anchors == 2, report.summary()


def test_a_cut_below_the_latest_anchor_is_never_blessed(attacker, trail: AuditTrail, anchor_signer,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    _fill(trail, 6)
    trail.anchor(anchor_signer, path)
    attacker.attack(trail.engine, lambda rows: rows[:4])  # head cache fixed: looks whole
    _fill(trail, 5, start=100)  # and the keeper goes on appending after the cut
    before = path.read_bytes()
    with pytest.raises(AnchorError, match="rewritten"):
        trail.anchor(anchor_signer, path)
    assert path.read_bytes() == before
    report = trail.verify(path, anchor_signer.public_key())
    assert not report.ok and report.first_bad == 5


def test_concurrent_anchoring_keeps_the_anchor_chain(trail: AuditTrail, anchor_signer,
                                                     tmp_path: Path) -> None:
    import threading

    path = tmp_path / "anchors.jsonl"
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(4):
                _fill(trail, 1, start=100 * k + j)
                trail.anchor(anchor_signer, path)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    report = trail.verify(path, anchor_signer.public_key())
    assert report.ok and report.anchors == 12 and report.records == 12, report.summary()
