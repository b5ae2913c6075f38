"""The console-ops test world (``tests/api/console_ops``): the console's world (clients, one
login per role) plus what the compliance and treasury pages show, all written through the
domains' own services:

* compliance: :data:`CASES` withdrawals of ``alice`` to a labelled mixer, each blocked by R005 with a
  case and a SAR draft (``ComplianceService.screen``); the mirrored movements
  vault -> A -> mixer -> partner sub-account -> D for the trace (own wallet, mixer and partner
  marked; the partner's client reference is hostile markup);
* treasury: a reconciliation run with a critical and an investigation break (the breaker
  halted), a dry-run daily sweep, the follower's cursor a few blocks behind the local mainnet
  (read-only), and the tiers of three BTC wallets on the project's script-checking local chain
  (hot far above its 5% target: out of band).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, insert

from api.main import create_app
from keeper.audit import record_in
from keeper.btc import REGTEST, LocalChain, MultisigDescriptor, MultisigWallet, ranged_key
from keeper.compliance import ComplianceService, LabelledAddressRisk, LabelStore, Movement, RuleSet
from keeper.forensics.models import TransferRow
from keeper.keys.hd import ExtendedPrivateKey
from keeper.ledger import Ledger
from keeper.ledger.sources import CursorState
from keeper.partners.store import PartnerStore
from keeper.prices import StaticPrices
from keeper.recon import BreakBook, Finding
from keeper.recon.figures import Table, figures
from keeper.treasury.moves import Move
from keeper.treasury.tiers import BtcLocation, SweepBook, TierPolicy, TierView, load_policy, tier_view
from strongroom_testkit.apiworld import VAULT
from strongroom_testkit.browser import ConsoleWorld, console_world
from strongroom_testkit.forensics import USDC_UNIT, addr, labels_csv

UPSTREAM = "http://127.0.0.1:18545"  # the local mainnet (read only: the head block)
MIXER, A, PARTNER, D = addr(0x66), addr(0xA1), addr(0xC3), addr(0xD4)
CASES = 5  # one per test module that changes a case, and spares
HOSTILE = 'c-<script>alert(1)</script>"&<img src=x onerror=alert(2)>'
SAT = 10**8
BIP48 = "m/48h/1h/0h/2h"
TierSource = Callable[[], tuple[TierPolicy, TierView]]


@dataclass
class OpsWorld:
    """The world, its engine, and the ids the tests use."""

    cw: ConsoleWorld
    engine: Engine
    cases: list[int] = field(default_factory=list)
    sars: list[int] = field(default_factory=list)
    breaks: dict[str, int] = field(default_factory=dict)
    run_id: int = 0
    tiers: TierSource | None = None

    def settings(self) -> object:
        """Settings of the app under test (the local mainnet for the follower's lag)."""
        return self.cw.settings(rpc_url=UPSTREAM)

    def app(self) -> FastAPI:
        """The API (console included) on this world, the BTC tiers wired in."""
        app = create_app(self.settings())  # type: ignore[arg-type]
        app.state.treasury_tiers = self.tiers
        return app


def _wallet(tag: str, chain: LocalChain) -> MultisigWallet:
    masters = [ExtendedPrivateKey.from_seed(hashlib.sha256(f"{tag}-{i}".encode()).digest())
               for i in range(3)]
    keys = tuple(ranged_key(m.fingerprint(), BIP48, m.derive(BIP48).public().serialize())
                 for m in masters)
    return MultisigWallet(MultisigDescriptor(2, keys, REGTEST), chain, lookahead=2)


def btc_tiers() -> TierSource:
    """Hot 6 BTC, warm 3, cold 11 on a local chain: hot 30% against a 5% target."""
    chain = LocalChain()
    wallets = {t: _wallet(f"console-ops-{t}", chain) for t in ("hot", "warm", "cold")}
    for tier, sats in (("hot", 6 * SAT), ("warm", 3 * SAT), ("cold", 11 * SAT)):
        chain.fund(bytes(wallets[tier].descriptor.script_pubkey(0, 0)), sats)
    policy = load_policy()

    def read() -> tuple[TierPolicy, TierView]:
        now = datetime.now(UTC)
        prices = StaticPrices({"ETH": 300_000, "BTC": 9_000_000}, now)
        return policy, tier_view(policy, prices, now=now, btc=[
            BtcLocation(f"btc-{t}", t, w) for t, w in wallets.items()])  # type: ignore[arg-type]
    return read


def build_ops_world(data_dir: Path) -> OpsWorld:
    """See the module docstring."""
    cw = console_world(data_dir)
    cw.world.deploy()  # the vault at VAULT: labelled own:vault in traces
    engine = create_engine(cw.world.url)
    out = OpsWorld(cw, engine, tiers=btc_tiers())
    now = datetime.now(UTC)
    LabelStore(engine).import_list("intel", labels_csv([(MIXER, "mixer")]), "csv")
    PartnerStore(engine, "warp").add_account(HOSTILE, PARTNER)
    rows = [{"block_number": 10 + i, "block_hash": "0x" + f"{10 + i:064x}",
             "block_time": now - timedelta(hours=3) + timedelta(minutes=i),
             "tx_hash": "0x" + f"{i + 1:064x}", "log_index": 0, "asset": "USDC",
             "token": addr(0x99), "sender": s, "recipient": r, "amount": str((9 - i) * USDC_UNIT)}
            for i, (s, r) in enumerate([(VAULT.lower(), A), (A, MIXER), (MIXER, PARTNER),
                                        (PARTNER, D)])]
    with engine.begin() as conn:
        conn.execute(insert(TransferRow), rows)
    svc = ComplianceService(engine, RuleSet.load(),
                            risk=LabelledAddressRisk(LabelStore(engine).current_labels()))
    alice = cw.world.alice.client.id
    for i in range(CASES):
        v = svc.screen(Movement(f"console-ops-wd-{i}", alice, "withdrawal", "USDC",
                                (1_000 + i) * USDC_UNIT, (1_000 + i) * 100,
                                now - timedelta(hours=2) + timedelta(minutes=i), address=MIXER))
        assert v.outcome == "block" and v.case_id is not None and v.report_ids, v
        out.cases.append(v.case_id)
        out.sars += list(v.report_ids)
    book = BreakBook(engine, audit=record_in)
    run = book.record("type1:console-ops", 1, 12, figures(
        "Type 1: sub-ledger vs chain", 12, [Table("Omnibus", ["location", "ledger", "chain"],
                                                  [["vault", "25,000.000000 USDC", "0.000000 USDC"]])],
        {}), [Finding("omnibus", f"USDC vault:{VAULT}", "USDC", 25_000 * USDC_UNIT, 2_500_000,
                      "ledger above chain"),
              Finding("omnibus", "ETH tier1:0xw", "ETH", 10**17, 30_000, "ledger above chain")])
    out.run_id = run.id
    for b in book.breaks(run.id):
        out.breaks[b.size_class.value] = b.id
    assert book.halted()
    SweepBook(engine).plan(f"daily:{now:%Y-%m-%d}:USDC", "daily",
                           Move("USDC", "vault", "hot", "cold_multisig", "cold", 7 * USDC_UNIT,
                                "hot above target"), "dry_run")
    lg = Ledger(cw.world.url, group_commit=False)
    try:
        lg.move_cursor([], expected=None, to=CursorState("vault", 3, "0x" + "03" * 32, 0))
    finally:
        lg.close()
    return out


def audit_ops(engine: Engine, operation: str) -> list[dict]:
    """The audit records of ``operation`` (actor, params, result), oldest first."""
    from sqlalchemy import select

    from keeper.audit.models import AuditRow

    with engine.connect() as conn:
        bodies = conn.scalars(select(AuditRow.body).order_by(AuditRow.seq)).all()
    records = [json.loads(b)["record"] for b in bodies]
    return [r for r in records if r["operation"] == operation]
