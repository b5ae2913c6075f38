"""EOD GL batch against the real local ATLAS: balanced, idempotent per business date, retried
at 1, 5 and 15 minutes then escalated, rejections alerted at once."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keeper.gl import FAILED_ALERT, REJECTED_ALERT, RETRY_DELAYS_S, GLBatches
from keeper.gl import upgrade as upgrade_gl
from keeper.integrations.corebanking import AtlasClient, AtlasOpsClient, Faults, GLBatch, GLEntry
from keeper.integrations.corebanking.wire import gl_problems
from keeper.keys.secrets import Secret
from keeper.ledger import Ledger, TransferSpec
from keeper.ledger import upgrade as upgrade_ledger
from strongroom_testkit.services import Atlas, make_atlas

T0 = datetime(2026, 2, 1, 23, 55, tzinfo=UTC)
UNIT = 10**4  # USDC base units in a cent


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.now += timedelta(seconds=seconds)


_days = iter(range(10**6))


@pytest.fixture
def clock() -> Clock:
    """A clock at 23:55 UTC on a business date no other test of the session uses (the ATLAS
    process is shared and idempotent on the date's batch id)."""
    return Clock(T0 + timedelta(days=next(_days)))


@pytest.fixture
def ledger(database: Callable[[str], str]) -> Iterator[Ledger]:
    """A ledger (direct commits) over a database with the ledger and gl schemas."""
    url = database("gl")
    upgrade_ledger(url)
    upgrade_gl(url)
    led = Ledger(url, group_commit=False)
    yield led
    led.close()


@pytest.fixture(scope="module")
def atlas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Atlas]:
    """One real ATLAS process (nobody listens on its notification URL: none is sent here)."""
    a = make_atlas(tmp_path_factory.mktemp("atlas"), "http://127.0.0.1:9")
    a.start()
    yield a
    a.stop()


@pytest.fixture
def bank(atlas: Atlas) -> Iterator[AtlasClient]:
    """The platform's client of ATLAS; no in-call retries (the batch's own schedule is tested)."""
    client = AtlasClient(atlas.url, Secret(atlas.api_key), retries=0)
    yield client
    client.close()


@pytest.fixture
def ops(atlas: Atlas) -> Iterator[AtlasOpsClient]:
    """ATLAS's staff client; faults are cleared after each test."""
    client = AtlasOpsClient(atlas.url, Secret(atlas.ops_key))
    yield client
    client.set_faults(Faults())
    client.close()


def deposit(ledger: Ledger, client: str, units: int, asset: str = "USDC") -> None:
    """Credit ``client`` with ``units`` arriving in the vault's omnibus."""
    ledger.post(TransferSpec(uuid.uuid4().hex, ledger.omnibus_account(asset, "vault:0x" + "11" * 20),
                             ledger.client_account(client, asset), units))


def charge_fee(ledger: Ledger, client: str, units: int, asset: str = "USDC") -> None:
    """Move ``units`` of ``client``'s holding to fee revenue."""
    ledger.post(TransferSpec(uuid.uuid4().hex, ledger.client_account(client, asset),
                             ledger.fee_account(asset), units))


def gl_postings(atlas: Atlas, batch_id: str) -> int:
    """How many GL postings ATLAS's own database holds for ``batch_id`` (read from its file)."""
    con = sqlite3.connect(Path(atlas.db))
    try:
        rows = con.execute("SELECT meta FROM atlas_postings WHERE kind = 'gl_batch'").fetchall()
    finally:
        con.close()
    return sum(batch_id in str(meta) for (meta,) in rows)


def _totals(batch: GLBatch) -> tuple[int, int]:
    return (sum(int(e.debit) for e in batch.entries), sum(int(e.credit) for e in batch.entries))


def _lines(batch: GLBatch) -> dict[str, int]:
    """GL code -> signed cents (+ debit, - credit)."""
    return {e.account: int(e.debit) - int(e.credit) for e in batch.entries}


def test_batch_is_balanced_and_posted_once(ledger: Ledger, bank: AtlasClient, atlas: Atlas,
                                           ops: AtlasOpsClient, clock: Clock) -> None:
    """A buy of 100,000 USDC with a 250 USDC fee (the spec's example, which is unbalanced as
    written) posts as a balanced batch; ATLAS's own ledger stays balanced."""
    deposit(ledger, "alice", 100_250 * 100 * UNIT + UNIT // 2)  # half a cent: floored
    charge_fee(ledger, "alice", 250 * 100 * UNIT)
    gl = GLBatches(ledger.engine, bank, ledger.raise_alert, clock=clock)
    state = gl.run(clock.now.date())
    assert state.status == "posted" and state.atlas_batch_id and state.attempts == 1
    assert state.batch is not None and not gl_problems(state.batch)
    dr, cr = _totals(state.batch)
    assert dr == cr == 100_250_00
    assert _lines(state.batch) == {"1100-CUSTOMER-USDC-WALLET": -100_000_00,
                                   "4500-FEE-REVENUE": -250_00,
                                   "2100-USDC-OMNIBUS-WALLET": 100_250_00}
    assert gl_postings(atlas, state.batch_id) == 1
    assert not ops.trial_balance().get("unbalanced")


def test_same_date_is_idempotent_and_next_day_posts_only_its_movements(
        ledger: Ledger, bank: AtlasClient, atlas: Atlas, clock: Clock) -> None:
    """Running the same date again posts nothing new and keeps the figures first built, even
    when the ledger moved meanwhile; the next date posts only what moved since."""
    gl = GLBatches(ledger.engine, bank, ledger.raise_alert, clock=clock)
    deposit(ledger, "bob", 5_000 * 100 * UNIT + UNIT // 2)
    first = gl.run(clock.now.date())
    deposit(ledger, "bob", 7 * 100 * UNIT + UNIT // 2)  # 7.00 + two half cents: 701 cents
    again = gl.run(clock.now.date())
    assert again == first and gl_postings(atlas, first.batch_id) == 1
    clock.advance(86_400)
    second = gl.run(clock.now.date())
    assert second.status == "posted" and second.batch is not None
    assert _lines(second.batch) == {"1100-CUSTOMER-USDC-WALLET": -701,
                                    "2100-USDC-OMNIBUS-WALLET": 701}
    clock.advance(86_400)
    assert gl.run(clock.now.date()).status == "empty"  # nothing moved: nothing to post
    with pytest.raises(ValueError, match="closed"):  # closings are cumulative: no going back
        gl.prepare(first.business_date - timedelta(days=1))


def test_outage_is_retried_at_1_5_15_minutes_then_ticketed(
        ledger: Ledger, bank: AtlasClient, ops: AtlasOpsClient, clock: Clock) -> None:
    """ATLAS in maintenance: the first attempt and the three retries (1, 5, 15 min) fail, no
    attempt happens before its time, then the batch is failed with one ops ticket alert."""
    deposit(ledger, "carol", 10 * 100 * UNIT)
    ops.set_faults(Faults(maintenance=True))
    gl = GLBatches(ledger.engine, bank, ledger.raise_alert, clock=clock)
    state = gl.run(clock.now.date())
    for n, delay in enumerate(RETRY_DELAYS_S, start=1):
        assert state.status == "pending" and state.attempts == n
        assert state.next_attempt_at == clock.now + timedelta(seconds=delay)
        clock.advance(delay - 1)
        assert gl.post_due() == []  # not yet due
        clock.advance(1)
        (state,) = gl.post_due()
    assert state.status == "failed" and state.attempts == 4
    assert [a for a in ledger.alerts() if a[0] == FAILED_ALERT] == [
        (FAILED_ALERT, ledger.alerts()[-1][1], f"{FAILED_ALERT}:{state.batch_id}")]
    clock.advance(3600)
    assert gl.post_due() == []  # a failed batch is not retried by itself


def test_lost_answer_then_retry_posts_once(ledger: Ledger, bank: AtlasClient, atlas: Atlas,
                                           ops: AtlasOpsClient, clock: Clock) -> None:
    """ATLAS applies the batch but the answer is lost (500 after): the retry a minute later
    gets the first answer back and ATLAS holds one posting, not two."""
    deposit(ledger, "dave", 3 * 100 * UNIT)
    ops.set_faults(Faults(error_rate=1.0, error_when="after"))
    gl = GLBatches(ledger.engine, bank, ledger.raise_alert, clock=clock)
    state = gl.run(clock.now.date())
    assert state.status == "pending" and gl_postings(atlas, state.batch_id) == 1
    ops.set_faults(Faults())
    clock.advance(RETRY_DELAYS_S[0])
    (state,) = gl.post_due()
    assert state.status == "posted" and state.attempts == 2
    assert gl_postings(atlas, state.batch_id) == 1


def test_suspense_and_usdt_movements_post(ledger: Ledger, bank: AtlasClient, atlas: Atlas,
                                         clock: Clock) -> None:
    """Unattributed USDC in suspense and a USDT holding roll up into GL codes ATLAS's chart
    holds (2900-USDC-SUSPENSE, 1100-CUSTOMER-USDT-WALLET, 2100-USDT-OMNIBUS-WALLET): posted."""
    ledger.post(TransferSpec("unattributed-1", ledger.omnibus_account("USDC", "vault:0x" + "22" * 20),
                             ledger.suspense_account("USDC"), 42 * UNIT))
    deposit(ledger, "frank", 9 * 100 * UNIT, "USDT")
    gl = GLBatches(ledger.engine, bank, ledger.raise_alert, clock=clock)
    state = gl.run(clock.now.date())
    assert state.status == "posted" and state.attempts == 1, state.last_error
    assert state.batch is not None
    assert _lines(state.batch) == {"2900-USDC-SUSPENSE": -42, "2100-USDC-OMNIBUS-WALLET": 42,
                                   "1100-CUSTOMER-USDT-WALLET": -900,
                                   "2100-USDT-OMNIBUS-WALLET": 900}
    assert gl_postings(atlas, state.batch_id) == 1


def test_rejection_is_not_retried_and_alerts_accounting(
        ledger: Ledger, bank: AtlasClient, atlas: Atlas, clock: Clock) -> None:
    """A batch ATLAS refuses (here: a holding beyond ATLAS's bound of MAX_CENTS a line) is
    rejected at once, alerted, and never re-sent."""
    from keeper.integrations.corebanking.wire import MAX_CENTS

    deposit(ledger, "grace", (MAX_CENTS + 1) * UNIT)
    gl = GLBatches(ledger.engine, bank, ledger.raise_alert, clock=clock)
    state = gl.run(clock.now.date())
    assert state.status == "rejected" and state.attempts == 1
    assert f"amount above {MAX_CENTS}" in (state.last_error or "")
    assert any(a[0] == REJECTED_ALERT and a[2] == f"{REJECTED_ALERT}:{state.batch_id}"
               for a in ledger.alerts())
    clock.advance(3600)
    assert gl.post_due() == [] and gl_postings(atlas, state.batch_id) == 0


def test_spec_example_is_unbalanced_and_ours_never_is() -> None:
    """The spec's §8.2 example as written (a 250 fee credit with no debit) is rejected."""
    spec = GLBatch(batch_id="GL-BATCH-SPEC", posting_date="2026-02-01", entries=[
        GLEntry(account="1100-CUSTOMER-USDC-WALLET", debit="0", credit="10000000",
                currency="USD-EQUIVALENT", description="Customer buy USDC", reference="SC-ORD-123"),
        GLEntry(account="2100-USDC-OMNIBUS-WALLET", debit="10000000", credit="0",
                currency="USD-EQUIVALENT", description="Omnibus", reference="SC-ORD-123"),
        GLEntry(account="4500-FEE-REVENUE", debit="0", credit="25000", currency="USD",
                description="USDC buy fee", reference="SC-ORD-123")])
    assert any("unbalanced in USD" in p for p in gl_problems(spec))


def test_scheduled_jobs_post_with_the_key_from_the_secrets_dir(
        ledger: Ledger, atlas: Atlas, tmp_path: Path, clock: Clock) -> None:
    """``gl_eod`` reads the platform's ATLAS key from its 0600 file under ``secrets_dir`` and
    posts the slot's date; without core banking configured both jobs do nothing."""
    from types import SimpleNamespace

    from keeper.config import Settings
    from keeper.gl.jobs import end_of_day, retry_due
    from keeper.integrations.corebanking import ATLAS_KEY_FILE
    from keeper.jobs.scheduler import JobRun
    from keeper.keys.secrets import write_secret_file

    deposit(ledger, "erin", 12 * 100 * UNIT)
    write_secret_file(tmp_path / ATLAS_KEY_FILE, atlas.api_key)
    off = SimpleNamespace(settings=Settings(secrets_dir=tmp_path, atlas_url=""), ledger=ledger)
    assert end_of_day(JobRun(off, "gl_eod", clock.now)) is None
    assert retry_due(JobRun(off, "gl_retry", clock.now)) == 0
    host = SimpleNamespace(settings=Settings(secrets_dir=tmp_path, atlas_url=atlas.url),
                           ledger=ledger)
    state = end_of_day(JobRun(host, "gl_eod", clock.now))
    assert state is not None and state.status == "posted"
    assert state.business_date == clock.now.date() and gl_postings(atlas, state.batch_id) == 1
