"""The EOD GL batch contract (spec 004 §8.2): posted once per batch_id, rejected whole with its
reasons when an account is unknown or debits != credits."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from keeper.integrations.corebanking import CoreBankingRejectedError, GLBatch
from keeper.integrations.corebanking.wire import GL_ACCOUNTS, RESERVE_ASSETS, gl_problems
from keeper.ledger import GL_CODES


def entry(account: str, debit: int, credit: int, currency: str = "USD-EQUIVALENT") -> dict[str, Any]:
    return {"account": account, "debit": str(debit), "credit": str(credit), "currency": currency,
            "description": "test", "reference": "SC-ORD-123"}


def batch(*entries: dict[str, Any]) -> GLBatch:
    return GLBatch(batch_id=f"GL-BATCH-{uuid.uuid4().hex[:10]}", posting_date="2026-02-01",
                   entries=list(entries))


def test_a_balanced_batch_posts_once(client, postings) -> None:
    b = batch(entry("1100-CUSTOMER-USDC-WALLET", 0, 100_000_00),
              entry("2100-USDC-OMNIBUS-WALLET", 100_000_00, 0),
              entry("4500-FEE-REVENUE", 0, 250_00, "USD"),
              entry("2100-USDC-OMNIBUS-WALLET", 250_00, 0, "USD"))
    before = postings()
    first = client.post_gl_batch(b)
    assert first.batch_id == b.batch_id and first.atlas_batch_id.startswith("ATLAS-GL-")
    assert client.post_gl_batch(b) == first  # a retried batch is not posted twice
    assert postings() == before + 2  # one balanced posting per currency


def test_every_gl_code_the_ledger_rolls_up_into_is_in_atlas_chart() -> None:
    """The chart is the ledger's GL codes for each reserve asset (USDT and suspense included):
    a USDT or suspense movement must not get the EOD batch rejected."""
    codes = {code.format(asset=a) for code in GL_CODES.values() for a in RESERVE_ASSETS}
    assert codes == set(GL_ACCOUNTS)
    assert {"1100-CUSTOMER-USDT-WALLET", "2100-USDT-OMNIBUS-WALLET", "2900-USDC-SUSPENSE",
            "2900-USDT-SUSPENSE"} <= set(GL_ACCOUNTS)


def test_usdt_and_suspense_lines_post(client, postings) -> None:
    """A batch moving USDT holdings and both suspense accounts is accepted by the live ATLAS
    (then undone, so the shared service's balances are left as found)."""
    b = batch(entry("1100-CUSTOMER-USDT-WALLET", 0, 5_00), entry("2100-USDT-OMNIBUS-WALLET", 7_00, 0),
              entry("2900-USDT-SUSPENSE", 0, 2_00), entry("2900-USDC-SUSPENSE", 0, 3_00),
              entry("2100-USDC-OMNIBUS-WALLET", 3_00, 0))
    back = batch(*[entry(e.account, int(e.credit), int(e.debit)) for e in b.entries])
    assert gl_problems(b) == [] and gl_problems(back) == []
    before = postings()
    assert client.post_gl_batch(b).batch_id == b.batch_id
    assert client.post_gl_batch(back).batch_id == back.batch_id  # the accounts back to zero
    assert postings() == before + 2


def test_the_spec_example_batch_is_rejected_as_unbalanced(client, postings) -> None:
    """Spec 004 §8.2's own example credits a 250 fee nobody debits: ATLAS must refuse it."""
    b = batch(entry("1100-CUSTOMER-USDC-WALLET", 0, 100000),
              entry("2100-USDC-OMNIBUS-WALLET", 100000, 0),
              entry("4500-FEE-REVENUE", 0, 250, "USD"))
    before = postings()
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.post_gl_batch(b)
    assert exc.value.status == 422 and exc.value.code == "gl_batch_rejected"
    assert "unbalanced in USD: debits 0 != credits 250" in exc.value.message
    assert postings() == before


def test_unknown_account_and_one_sided_lines_are_named(client, postings) -> None:
    b = batch(entry("9999-NO-SUCH-ACCOUNT", 0, 500), entry("2100-USDC-OMNIBUS-WALLET", 500, 0),
              entry("2100-USDT-OMNIBUS-WALLET", 7, 7), entry("4500-FEE-REVENUE", 0, 0, "EUR"))
    before = postings()
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.post_gl_batch(b)
    msg = exc.value.message
    assert "unknown GL account '9999-NO-SUCH-ACCOUNT'" in msg
    assert "entry 2: exactly one of debit and credit" in msg
    assert "entry 3: unknown currency 'EUR'" in msg
    assert postings() == before


def test_a_rejected_batch_id_can_be_corrected_and_resent(client) -> None:
    bad = batch(entry("1100-CUSTOMER-USDC-WALLET", 0, 10), entry("2100-USDC-OMNIBUS-WALLET", 9, 0))
    with pytest.raises(CoreBankingRejectedError):
        client.post_gl_batch(bad)
    fixed = GLBatch(batch_id=bad.batch_id, posting_date=bad.posting_date,
                    entries=[entry("1100-CUSTOMER-USDC-WALLET", 0, 10),
                             entry("2100-USDC-OMNIBUS-WALLET", 10, 0)])
    assert client.post_gl_batch(fixed).batch_id == bad.batch_id
    changed = GLBatch(batch_id=bad.batch_id, posting_date=bad.posting_date,
                      entries=[entry("1100-CUSTOMER-USDC-WALLET", 0, 11),
                               entry("2100-USDC-OMNIBUS-WALLET", 11, 0)])
    with pytest.raises(CoreBankingRejectedError) as exc:  # the id is now spent
        client.post_gl_batch(changed)
    assert exc.value.code == "idempotency_conflict"


@pytest.mark.parametrize("amount", [100000.00, 100000, "100000.00", "-5", "1e5", "0100", "9" * 40])
def test_amounts_that_are_not_cent_strings_are_refused(atlas, postings, amount) -> None:
    body = {"batch_id": f"GL-{uuid.uuid4().hex[:8]}", "posting_date": "2026-02-01",
            "entries": [entry("1100-CUSTOMER-USDC-WALLET", 0, 0) | {"credit": amount},
                        entry("2100-USDC-OMNIBUS-WALLET", 0, 0) | {"debit": amount}]}
    before = postings()
    r = httpx.post(f"{atlas.url}/atlas/gl/post-batch", json=body,
                   headers={"Authorization": f"Bearer {atlas.api_key}"})
    assert r.status_code == 422, r.text
    assert postings() == before


def test_a_batch_too_large_to_sum_is_refused_and_the_ledger_stays_readable(client, ops,
                                                                           postings) -> None:
    """Amounts that SQLite's 64-bit SUM cannot add would make every later balance read fail:
    ATLAS refuses the batch rather than post a ledger it cannot total."""
    huge = 10**17
    b = batch(*[entry("2100-USDC-OMNIBUS-WALLET", huge, 0) for _ in range(100)],
              *[entry("1100-CUSTOMER-USDC-WALLET", 0, huge) for _ in range(100)])
    before = postings()
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.post_gl_batch(b)
    assert exc.value.code == "gl_batch_rejected"
    assert postings() == before
    assert ops.trial_balance()["unbalanced_postings"] == []


def test_large_turnover_keeps_every_total_readable(client, ops) -> None:
    """Balanced batches moving 10^17 cents back and forth: each balance stays bounded, the
    ledger's turnover passes 2^63, and the trial balance still adds up; a batch that would take
    an account past the bound is refused."""
    huge = 10**17
    for i in range(100):
        a, b = ("2100-USDT-OMNIBUS-WALLET", "1100-CUSTOMER-USDT-WALLET")[:: 1 if i % 2 == 0 else -1]
        client.post_gl_batch(batch(entry(a, huge, 0), entry(b, 0, huge)))
    tb = ops.trial_balance()
    eq = tb["currencies"]["USD-EQUIVALENT"]
    assert eq["debits"] == eq["credits"]
    assert tb["unbalanced_postings"] == [] and tb["balance_drift"] == []
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.post_gl_batch(batch(entry("2100-USDT-OMNIBUS-WALLET", huge, 0),
                                   entry("1100-CUSTOMER-USDT-WALLET", 0, huge)))
        client.post_gl_batch(batch(entry("2100-USDT-OMNIBUS-WALLET", huge, 0),
                                   entry("1100-CUSTOMER-USDT-WALLET", 0, huge)))
    assert exc.value.code == "limit_exceeded"
