"""Partner custody: synchronisation, independent verification, reconciliation, outages.

:class:`PartnerCustody` pulls a partner's sub-accounts, transactions and balances, verifies
100 % of the reported transactions against the chain through OUR node
(:mod:`keeper.partners.verify`), moves a client's partner holding in the sub-ledger only for
verified ones (posting and verdict in one transaction), raises each mismatch once as a break with
an alert, and reconciles reported balances, verified holdings and on-chain balances of the
sub-account addresses. When the partner is unreachable it alerts once per episode and serves the
last verified holdings marked stale with their age; a 429 pushes the next sync past Retry-After.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from web3 import Web3

from keeper.audit import AuditRecord, append
from keeper.ledger import Ledger, LedgerError
from keeper.partners import chainscan
from keeper.partners.interface import (
    BalancesReport,
    PartnerAPI,
    PartnerError,
    PartnerProtocolError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerTx,
    PartnerUnavailable,
)
from keeper.partners.postings import transfers
from keeper.partners.reads import STALE_AFTER_S, Holding, holdings, verified_units
from keeper.partners.store import PartnerStore, digest, now
from keeper.partners.verify import Reported, Requested, check

log = logging.getLogger("keeper.partners")
MAX_REPORTED = 2_000_000  # reported transactions read per sync; more is a hostile partner


@dataclass
class SyncResult:
    """What one :meth:`PartnerCustody.sync` did."""

    status: str  # ok | skipped | unavailable | rate_limited | protocol_error
    verified: int = 0
    breaks: list[str] = field(default_factory=list)
    pending: int = 0
    seconds: float = 0.0
    error: str = ""


def request_sync(engine: Engine, partner: str) -> None:
    """Ask for a pull of ``partner`` at the next ``partners_sync`` job run: all a verified
    webhook does (its body is never used; the pull verifies everything against the chain)."""
    PartnerStore(engine, partner).set_state(requested_at=now())


class PartnerCustody:
    """One partner's custody, verified independently (see module doc)."""

    def __init__(self, ledger: Ledger, partner: PartnerAPI, w3: Web3, *, confirmations: int,
                 whitelist: Iterable[str], stale_after_s: float = STALE_AFTER_S,
                 unreported_grace_blocks: int = 64) -> None:
        self.ledger, self.partner, self.w3 = ledger, partner, w3
        self.name = partner.name
        self.store = PartnerStore(ledger.engine, self.name)
        self.confirmations = max(1, confirmations)
        self.whitelist = frozenset(a.lower() for a in whitelist)
        self.stale_after_s, self.grace = stale_after_s, unreported_grace_blocks

    # --- accounts and withdrawals ------------------------------------------------------------
    def open_account(self, client_ref: str) -> str:
        """Open the client's segregated sub-account at the partner; returns its address."""
        account = self.partner.open_account(client_ref)
        taken = {a: c for c, a in self.store.accounts().items()}
        if account.client_ref != client_ref or account.address in self.whitelist or taken.get(
                account.address, client_ref) != client_ref:
            raise PartnerProtocolError(f"partner named {account.address} for {client_ref}: one "
                                       "of our own addresses, another client's, or another name")
        if self.store.state()["scanned_block"] is None:
            self.store.set_state(scanned_block=int(self.w3.eth.block_number) - 1)
        self.store.add_account(account.client_ref, account.address)
        return self.store.accounts()[client_ref]

    def request_withdrawal(self, client_ref: str, asset: str, units: int, to: str) -> dict:
        """Ask the partner to send ``units`` of ``asset`` from the client's sub-account to ``to``
        (whitelisted by us). The idempotency key is stored before the call: after an outage
        :meth:`resume_withdrawals` retries with the same key, so it is executed at most once."""
        if to.lower() not in self.whitelist:
            raise ValueError("destination is not whitelisted")
        if units <= 0 or asset not in chainscan.ASSETS:
            raise ValueError("a withdrawal needs a positive amount of a custodied asset")
        if client_ref not in self.store.accounts():
            raise ValueError("no sub-account for this client")
        key = str(uuid.uuid4())
        request = {"idem_key": key, "client_ref": client_ref, "asset": asset,
                   "amount": str(units), "destination": to.lower()}
        with self.ledger.engine.begin() as conn:  # the request and its audit record together
            self.store.add_withdrawal(conn, **request)
            append(conn, AuditRecord(f"keeper:partners:{self.name}",
                                     "partners.withdrawal_requested", request, {}))
        self._submit(self._withdrawal(key))
        return self._withdrawal(key)

    def _withdrawal(self, key: str) -> dict:
        return next(w for w in self.store.withdrawals() if w["idem_key"] == key)

    def resume_withdrawals(self) -> int:
        """Send again (same keys) every request the partner has not acknowledged."""
        rows = self.store.withdrawals("requested")
        for row in rows:
            self._submit(row)
        return len(rows)

    def _submit(self, row: dict) -> None:
        try:
            tx = self.partner.withdraw(client_ref=row["client_ref"], asset=row["asset"],
                                       units=int(row["amount"]), to=row["destination"],
                                       idempotency_key=row["idem_key"])
        except PartnerRejected as exc:
            self.store.set_withdrawal(row["idem_key"], status="refused", last_error=str(exc)[:300])
            return
        except PartnerError as exc:
            self.store.set_withdrawal(row["idem_key"], last_error=str(exc)[:300])
            return
        with self.ledger.engine.begin() as conn:  # the acknowledgement and its audit together
            self.store.set_withdrawal(row["idem_key"], conn, status="accepted",
                                      partner_tx_id=tx.id, last_error=None)
            append(conn, AuditRecord(f"keeper:partners:{self.name}", "partners.withdrawal_accepted",
                                     {"idem_key": row["idem_key"]}, {"partner_tx_id": tx.id}))

    # --- sync --------------------------------------------------------------------------------
    def request_sync(self) -> None:
        """Ask for a pull at the next job run (see :func:`request_sync`)."""
        request_sync(self.ledger.engine, self.name)

    def sync(self, *, force: bool = False) -> SyncResult:
        """Pull, verify every pending report, reconcile balances; audited. Never raises for
        anything the partner does; a failure changes nothing but the partner's state."""
        state = self.store.state()
        if not force and state["not_before"] is not None and state["not_before"] > now():
            return SyncResult("skipped")
        result = self._sync(now())
        self._audit_sync(result)
        return result

    def _sync(self, began: datetime) -> SyncResult:
        started = time.perf_counter()
        try:
            self.resume_withdrawals()
            accounts = self.partner.accounts()
            txs = self._all_transactions()
            report = self.partner.balances()
        except PartnerRateLimited as exc:
            wait = exc.retry_after or 1.0
            self.store.set_state(not_before=now() + timedelta(seconds=wait), last_error=str(exc))
            return SyncResult("rate_limited", error=str(exc))
        except PartnerUnavailable as exc:
            self._outage(str(exc))
            return SyncResult("unavailable", error=str(exc))
        except PartnerError as exc:  # hostile or broken reply: nothing of it is used
            self.store.set_state(last_error=str(exc)[:300])
            self.ledger.raise_alert("partner_protocol_error", f"partner {self.name}: {exc}",
                                    f"partner_protocol_error:{self.name}:{int(time.time() // 3600)}")
            return SyncResult("protocol_error", error=str(exc))
        result = SyncResult("ok")
        self._check_accounts(accounts, result)
        self._record(txs, result)
        safe = int(self.w3.eth.block_number) - self.confirmations + 1
        self._scan(safe)
        self._verify(safe, result)
        self._unreported(report.as_of_block, safe, result)
        self._reconcile(report, safe, result)
        result.seconds = time.perf_counter() - started
        self._recovered(result, began)
        return result

    def _all_transactions(self) -> list[PartnerTx]:
        out: list[PartnerTx] = []
        after = 0
        for _ in range(10_000):
            page = self.partner.transactions(after)
            out += page.transactions
            if page.next_after is None:
                return out
            if page.next_after <= after or len(out) > MAX_REPORTED:
                raise PartnerProtocolError("partner pagination does not advance or never ends")
            after = page.next_after
        raise PartnerProtocolError("partner pagination never ends")

    def _outage(self, error: str) -> None:
        state = self.store.state()
        since = state["outage_since"] or now()
        self.store.set_state(outage_since=since, last_error=error[:300])
        self.ledger.raise_alert("partner_unreachable",
                                f"partner {self.name} unreachable since {since.isoformat()}: "
                                f"{error}; serving last verified balances (stale)",
                                f"partner_unreachable:{self.name}:{since.isoformat()}")

    def _recovered(self, result: SyncResult, began: datetime) -> None:
        state = self.store.state()
        since = state["outage_since"]
        if since is not None:
            self.ledger.raise_alert("partner_recovered", f"partner {self.name} reachable again "
                                    f"(unreachable since {since.isoformat()})",
                                    f"partner_recovered:{self.name}:{since.isoformat()}")
        asked = state["requested_at"]  # a pull asked for after this one began is still due
        self.store.set_state(outage_since=None, last_error=None, not_before=None,
                             requested_at=asked if asked is not None and asked > began else None,
                             last_ok_at=now(), recon_ms=round(result.seconds * 1000))

    def _breach(self, result: SyncResult, kind: str, ref: str, detail: str,
                client_ref: str | None = None, tx_hash: str | None = None) -> None:
        if self.store.add_break(kind, ref, detail, client_ref, tx_hash):
            result.breaks.append(kind)
        self.ledger.raise_alert(f"partner_{kind}", f"partner {self.name}: {detail}",
                                f"partner:{self.name}:{ref}")

    def _check_accounts(self, accounts: list, result: SyncResult) -> None:
        ours = self.store.accounts()
        for a in accounts:
            if ours.get(a.client_ref) not in (None, a.address):
                self._breach(result, "report_changed", f"account:{a.client_ref}:{a.address}",
                             f"sub-account of {a.client_ref} reported at {a.address}, opened at "
                             f"{ours[a.client_ref]}", a.client_ref)

    def _record(self, txs: list[PartnerTx], result: SyncResult) -> None:
        known = self.store.report_digests()
        fresh = []
        for t in txs:
            if t.id in known:
                if known[t.id] != digest(t):
                    self._breach(result, "report_changed", f"changed:{t.id}:{digest(t)}",
                                 f"transaction {t.id} reported differently than before",
                                 t.client_ref, t.tx_hash)
            elif t.status == "confirmed":
                fresh.append(t)
                known[t.id] = digest(t)
        self.store.add_reports(fresh)

    def _scan(self, safe: int) -> None:
        state = self.store.state()
        start = (state["scanned_block"] or safe - 1) + 1
        addresses = list(self.store.accounts().values())
        if addresses and start <= safe:
            self.store.add_moves(chainscan.scan(self.w3, addresses, start, safe))
        if start <= safe:
            self.store.set_state(scanned_block=safe)

    def _verify(self, safe: int, result: SyncResult) -> None:
        accounts = self.store.accounts()
        requests = {w["partner_tx_id"]: w for w in self.store.withdrawals() if w["partner_tx_id"]}
        open_requests = {w["client_ref"] for w in self.store.withdrawals("requested")}
        claimed = set(self.store.claimed())
        posting: list[tuple[dict, chainscan.Move, Any]] = []
        for row in self.store.reports("pending"):
            address = accounts.get(row["client_ref"])
            r = Reported(row["kind"], row["asset"], int(row["amount"]), int(row["fee"]),
                         row["sender"], row["recipient"], row["tx_hash"], row["log_index"],
                         row["block_number"])
            if address is None:
                self._decide(row, "unknown_account", f"transaction {row['partner_tx_id']} of an "
                             f"account we never opened ({row['client_ref']})", None, result)
                continue
            facts = chainscan.tx_facts(self.w3, r.tx_hash) if r.tx_hash else None
            req = requests.get(row["partner_tx_id"])
            verdict = check(r, facts, address=address, safe_block=safe, whitelist=self.whitelist,
                            request=None if req is None else Requested(
                                req["asset"], int(req["amount"]), req["destination"]),
                            request_open=row["client_ref"] in open_requests,
                            claimed=frozenset(claimed))
            if verdict.status == "pending":
                result.pending += 1
            elif verdict.status == "break":
                self._decide(row, verdict.kind, verdict.detail, verdict.move, result)
            else:
                assert verdict.move is not None
                posting.append(self._post(row, address, verdict.move, facts.block if facts else 0))
                claimed.add(verdict.move.key)
        for row, move, outcome in posting:  # queued together: the ledger commits them in groups
            self._settled(row, move, outcome, result)

    def _decide(self, row: dict, kind: str, detail: str, move: chainscan.Move | None,
                result: SyncResult) -> None:
        self._breach(result, kind, f"tx:{row['partner_tx_id']}", detail, row["client_ref"],
                     row["tx_hash"])
        with self.ledger.engine.begin() as conn:
            self.store.decide(conn, row["id"], "break", move)
            append(conn, self._audit("partners.break", row, {"kind": kind, "detail": detail}))

    def _audit(self, operation: str, row: dict, result: dict) -> AuditRecord:
        """The audit record of a verdict on reported transaction ``row``."""
        params = {k: row[k] for k in ("partner_tx_id", "client_ref", "kind", "asset", "amount",
                                      "fee", "sender", "recipient", "tx_hash")}
        return AuditRecord(f"keeper:partners:{self.name}", operation, params, result)

    def _audit_sync(self, result: SyncResult) -> None:
        """Every pull is audited: what the partner API answered and what verification found."""
        record = AuditRecord(f"keeper:partners:{self.name}", "partners.sync", {},
                             {"status": result.status, "verified": result.verified,
                              "pending": result.pending, "breaks": sorted(result.breaks),
                              "ms": round(result.seconds * 1000), "error": result.error[:300]})
        with self.ledger.engine.begin() as conn:
            append(conn, record)

    def _post(self, row: dict, address: str, move: chainscan.Move, block: int
              ) -> tuple[dict, chainscan.Move, Any]:
        """Queue the postings of a verified report with its verdict and audit record (one
        transaction); returns the ledger's ticket (None: nothing to post, verdict recorded)."""
        specs = transfers(self.ledger, partner=self.name, address=address,
                          client_ref=row["client_ref"], kind=row["kind"], asset=row["asset"],
                          amount=int(row["amount"]), fee=int(row["fee"]), move_key=move.key,
                          tx_hash=row["tx_hash"], block=block)

        def hook(conn: Connection) -> None:
            self.store.decide(conn, row["id"], "verified", move)
            append(conn, self._audit("partners.verified", row, {"move": move.key, "block": block}))

        if not specs:  # nothing to move (a zero-value transfer): the verdict alone
            with self.ledger.engine.begin() as conn:
                hook(conn)
            return row, move, None
        try:
            return row, move, self.ledger.submit(specs, hook)
        except LedgerError as exc:
            return row, move, exc

    def _settled(self, row: dict, move: chainscan.Move, outcome: Any, result: SyncResult) -> None:
        """Wait for a queued posting; a refusal is a ``ledger_refused`` break."""
        try:
            if isinstance(outcome, LedgerError):
                raise outcome
            if outcome is not None:
                outcome.result()
        except LedgerError as exc:
            self._decide(row, "ledger_refused", f"the ledger refused {row['partner_tx_id']}: "
                         f"{type(exc).__name__}: {exc}", move, result)
            return
        result.verified += 1

    def _unreported(self, as_of: int, safe: int, result: SyncResult) -> None:
        # a decided report claims its own move; only undecided ones may still account for one
        reported = {(r["tx_hash"], r["asset"]) for r in self.store.reports("pending")}
        for m in self.store.unmatched_moves(max(min(as_of, safe), safe - self.grace)):
            if (m["tx_hash"], m["asset"]) in reported:
                continue
            self._breach(result, "unreported_on_chain", f"move:{m['move_key']}",
                         f"{m['amount']} {m['asset']} {m['sender']} -> {m['recipient']} in "
                         f"{m['tx_hash']} (block {m['block_number']}) is not in the partner's "
                         "report", None, m["tx_hash"])

    def _reconcile(self, report: BalancesReport, safe: int, result: SyncResult) -> None:
        accounts = self.store.accounts()
        at = min(report.as_of_block, safe)
        verified = self._verified(at)
        reported = {(b.client_ref, b.asset): b.amount for b in report.balances}
        self.store.set_state(as_of_block=at)
        for client, address in sorted(accounts.items()):
            for asset in chainscan.ASSETS:
                ours = verified[(client, asset)]
                chain = chainscan.balance_of(self.w3, address, asset, at)
                said = reported.get((client, asset), 0)
                if ours != chain or (report.as_of_block <= safe and said != ours):
                    self._breach(result, "balance_mismatch",
                                 f"balance:{client}:{asset}:{said}:{ours}:{chain}",
                                 f"{client} {asset} at block {at}: partner reports {said}, "
                                 f"verified {ours}, on chain {chain}", client)

    def _verified(self, up_to: int | None = None) -> dict[tuple[str, str], int]:
        """(client, asset) -> verified units up to block ``up_to`` (see
        :func:`keeper.partners.reads.verified_units`)."""
        return verified_units(self.store, up_to)

    # --- reads -------------------------------------------------------------------------------
    def holdings(self) -> list[Holding]:
        """What the partner holds per client and asset from the last verified data, with its
        age and stale flag (see :func:`keeper.partners.reads.holdings`)."""
        return holdings(self.ledger.engine, self.name, self.stale_after_s)
