"""Distributed custody topology (FR-007, SC-006): where every signer of every wallet sits.

The topology is data: each wallet has a quorum threshold ``m`` and ``n`` signers (key shares,
cosigners, HSM keys), each placed in a **region** and a **technology** (``hsm``,
``offline_hardware``, ``partner_custodian``, ``cloud_kms``, ...). :func:`check_wallet` applies the
policy to one wallet, the same way for both dimensions (region, technology):

1. **Spread**: the signers span at least 3 distinct regions and at least 3 technologies.
2. **No single point of control**: the signers in any one region (technology) number fewer than
   ``m``, so no region (technology) can reach quorum alone.
3. **Liveness**: losing any one whole region (technology) leaves at least ``m`` signers, so quorum
   stays reachable.

Interpretation of the issue's failing case, "one where two regions can reach quorum": a
topology whose quorum can be assembled with the signers of two regions only because that is all
it has, i.e. its signers sit in just two regions. Such a topology fails the spread rule, and it
also always fails rule 2 or rule 3: with region counts ``a + b = n``, either one region holds
``>= m`` (it reaches quorum alone) or both hold ``< m`` and losing one leaves ``< m``. The failure
reasons name the region(s) and the signers. We do NOT read it as "no two regions together may
reach quorum": with three regions, liveness (rule 3) requires exactly that the two surviving
regions reach quorum, so that reading would refuse the issue's passing case, a 3-of-5 spread
over 3 regions and 3 technologies (e.g. regions 2/2/1: any two regions hold >= 3). Both readings
are pinned by tests.

:class:`TopologyStore` persists the topology (``treasury_custody_*``) and applies changes (define a
wallet, add / move / remove a signer, change the threshold) only when the resulting wallet still
passes; a change that breaks the policy is refused with the reasons, the topology is left as it
was, and the request is recorded (``treasury_custody_changes`` and the audit trail) either way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update

from keeper.audit import AuditRecord, append
from keeper.ledger.db import WRITE
from keeper.treasury.pooling.models import CustodyChange, CustodySigner, CustodyWallet

MIN_REGIONS = 3
MIN_TECHNOLOGIES = 3
DIMENSIONS = ("region", "technology")


@dataclass(frozen=True, slots=True)
class Signer:
    """One signer (key share, cosigner, HSM key) of a wallet, placed in a region and a technology."""

    signer: str
    region: str
    technology: str


@dataclass(frozen=True)
class WalletTopology:
    """A wallet's ``threshold``-of-``len(signers)`` quorum and where its signers sit."""

    wallet: str
    threshold: int
    signers: tuple[Signer, ...]


@dataclass(frozen=True)
class WalletReport:
    """The policy check of one wallet: counts per region / technology, and every violation."""

    wallet: str
    threshold: int
    signers: int
    regions: dict[str, int]
    technologies: dict[str, int]
    violations: tuple[str, ...]
    #: ``"region X"`` / ``"technology Y"`` whose signers alone reach quorum (rule 2)
    reach_quorum_alone: tuple[str, ...] = ()
    #: ``"region X"`` / ``"technology Y"`` whose loss leaves quorum unreachable (rule 3)
    loss_breaks_quorum: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the wallet satisfies every rule."""
        return not self.violations

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {"wallet": self.wallet, "threshold": self.threshold, "signers": self.signers,
                "regions": self.regions, "technologies": self.technologies, "ok": self.ok,
                "reach_quorum_alone": list(self.reach_quorum_alone),
                "loss_breaks_quorum": list(self.loss_breaks_quorum),
                "violations": list(self.violations)}


class TopologyViolationError(ValueError):
    """A change refused because the wallet would break the policy (``reasons`` say how)."""

    def __init__(self, wallet: str, reasons: Sequence[str]) -> None:
        super().__init__(f"custody topology of {wallet} refused: " + "; ".join(reasons))
        self.wallet = wallet
        self.reasons = tuple(reasons)


def _groups(signers: Iterable[Signer], dim: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for s in signers:
        out[getattr(s, dim)].append(s.signer)
    return {k: sorted(v) for k, v in sorted(out.items())}


def check_wallet(topo: WalletTopology) -> WalletReport:
    """Apply the policy of the module docstring to one wallet; never raises on a bad topology."""
    m, n = topo.threshold, len(topo.signers)
    violations: list[str] = []
    names = [s.signer for s in topo.signers]
    if len(set(names)) != n:
        violations.append("a signer is listed twice")
    if not 1 <= m <= n:
        violations.append(f"threshold {m} is not between 1 and the {n} signers")
    groups = {dim: _groups(topo.signers, dim) for dim in DIMENSIONS}
    alone: list[str] = []
    fatal: list[str] = []
    for dim, least in (("region", MIN_REGIONS), ("technology", MIN_TECHNOLOGIES)):
        where = groups[dim]
        if len(where) < least:
            violations.append(f"signers span {len(where)} {dim}s ({', '.join(where) or 'none'}), "
                              f"at least {least} required")
        for place, members in where.items():
            if len(members) >= m:
                alone.append(f"{dim} {place}")
                violations.append(f"{dim} {place} alone reaches quorum ({len(members)} of "
                                  f"threshold {m}: {', '.join(members)})")
            if n - len(members) < m:
                fatal.append(f"{dim} {place}")
                violations.append(f"losing {dim} {place} ({', '.join(members)}) leaves "
                                  f"{n - len(members)} signers, below threshold {m}")
    return WalletReport(topo.wallet, m, n, {k: len(v) for k, v in groups["region"].items()},
                        {k: len(v) for k, v in groups["technology"].items()}, tuple(violations),
                        tuple(alone), tuple(fatal))


def topology_from_json(text: str) -> list[WalletTopology]:
    """Wallet topologies from JSON data: ``{"wallets": [{"wallet": "cold", "threshold": 3,
    "signers": [{"signer": "hsm-fra", "region": "eu-frankfurt", "technology": "hsm"}, ...]}]}``.
    ``ValueError`` names what is malformed (never a partial result)."""
    try:
        data = json.loads(text)
        out = []
        for w in data["wallets"]:
            threshold = w["threshold"]
            if type(threshold) is not int:
                raise ValueError(f"wallet {w.get('wallet')!r}: threshold is an integer")
            signers = tuple(Signer(str(x["signer"]), str(x["region"]), str(x["technology"]))
                            for x in w["signers"])
            out.append(WalletTopology(str(w["wallet"]), threshold, signers))
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"malformed custody topology: {err!r}") from None
    if len({t.wallet for t in out}) != len(out):
        raise ValueError("malformed custody topology: a wallet is listed twice")
    return out


def _now() -> datetime:
    return datetime.now(UTC)


class TopologyStore:
    """The persisted custody topology; every change checked, recorded and audited."""

    def __init__(self, engine: Engine, actor: str = "treasury:custody") -> None:
        self.engine = engine
        self.actor = actor

    def wallet(self, wallet: str) -> WalletTopology | None:
        """The stored topology of ``wallet``, or None."""
        with self.engine.connect() as conn:
            return self._load(conn, wallet)

    def _load(self, conn: Connection, wallet: str, lock: bool = False) -> WalletTopology | None:
        q = select(CustodyWallet.threshold).where(CustodyWallet.wallet == wallet)
        threshold = conn.scalar(q.with_for_update() if lock else q)
        if threshold is None:
            return None
        rows = conn.execute(select(CustodySigner.signer, CustodySigner.region,
                                   CustodySigner.technology)
                            .where(CustodySigner.wallet == wallet).order_by(CustodySigner.signer))
        return WalletTopology(wallet, int(threshold), tuple(Signer(*r) for r in rows))

    def report(self) -> list[WalletReport]:
        """The policy check of every stored wallet, by name."""
        with self.engine.connect() as conn:
            names = conn.scalars(select(CustodyWallet.wallet).order_by(CustodyWallet.wallet)).all()
            topos = [self._load(conn, w) for w in names]
        return [check_wallet(t) for t in topos if t is not None]

    def define(self, wallet: str, threshold: int, signers: Sequence[Signer]) -> WalletReport:
        """Create (or replace) ``wallet``'s whole topology; refused unless it passes."""
        return self._change(wallet, "define", {"threshold": threshold, "signers": [
            [s.signer, s.region, s.technology] for s in signers]},
            lambda _: WalletTopology(wallet, threshold, tuple(signers)))

    def add_signer(self, wallet: str, signer: Signer) -> WalletReport:
        """Add a signer to ``wallet``; refused if the result breaks the policy."""
        return self._change(wallet, "add", [signer.signer, signer.region, signer.technology],
                            lambda t: replace(t, signers=(*_existing(t, wallet).signers, signer)))

    def move_signer(self, wallet: str, signer: str, *, region: str | None = None,
                    technology: str | None = None) -> WalletReport:
        """Place ``signer`` in another region and/or technology; refused if the result breaks
        the policy (or the signer is unknown)."""
        def apply(t: WalletTopology | None) -> WalletTopology:
            cur = _existing(t, wallet)
            found = [s for s in cur.signers if s.signer == signer]
            if not found:
                raise TopologyViolationError(cur.wallet, [f"no signer {signer} in {cur.wallet}"])
            moved = replace(found[0], region=region or found[0].region,
                            technology=technology or found[0].technology)
            return replace(cur, signers=tuple(moved if s.signer == signer else s
                                              for s in cur.signers))
        return self._change(wallet, "move", [signer, region, technology], apply)

    def remove_signer(self, wallet: str, signer: str) -> WalletReport:
        """Remove ``signer`` from ``wallet``; refused if the result breaks the policy."""
        def apply(t: WalletTopology | None) -> WalletTopology:
            cur = _existing(t, wallet)
            if signer not in {s.signer for s in cur.signers}:
                raise TopologyViolationError(cur.wallet, [f"no signer {signer} in {cur.wallet}"])
            return replace(cur, signers=tuple(s for s in cur.signers if s.signer != signer))
        return self._change(wallet, "remove", [signer], apply)

    def set_threshold(self, wallet: str, threshold: int) -> WalletReport:
        """Change ``wallet``'s quorum threshold; refused if the result breaks the policy."""
        return self._change(wallet, "threshold", threshold,
                            lambda t: replace(_existing(t, wallet), threshold=threshold))

    def _change(self, wallet: str, action: str, detail: object,
                apply: Callable[[WalletTopology | None], WalletTopology]) -> WalletReport:
        """Check the changed topology and write it, or refuse it; record and audit both."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            # the wallet's row is locked (PostgreSQL): two changes, each fine alone, cannot
            # both pass on the same old topology
            current = self._load(conn, wallet, lock=True)
            try:
                proposed = apply(current)
                report = check_wallet(proposed)
                if not report.ok:
                    raise TopologyViolationError(wallet, report.violations)
            except TopologyViolationError as refused:
                reasons = list(refused.reasons)
                self._record(conn, wallet, action, detail, reasons)
                failure = refused
            else:
                self._write(conn, proposed)
                self._record(conn, wallet, action, detail, None)
                return report
        raise failure

    def _write(self, conn: Connection, topo: WalletTopology) -> None:
        if conn.scalar(select(CustodyWallet.threshold)
                    .where(CustodyWallet.wallet == topo.wallet)) is None:
            conn.execute(insert(CustodyWallet).values(wallet=topo.wallet,
                                                   threshold=topo.threshold))
        else:
            conn.execute(update(CustodyWallet).where(CustodyWallet.wallet == topo.wallet)
                      .values(threshold=topo.threshold))
        conn.execute(delete(CustodySigner).where(CustodySigner.wallet == topo.wallet))
        conn.execute(insert(CustodySigner), [
            {"wallet": topo.wallet, "signer": s.signer, "region": s.region,
             "technology": s.technology} for s in topo.signers])

    def _record(self, conn: Connection, wallet: str, action: str, detail: object,
                reasons: list[str] | None) -> None:
        body = json.dumps(detail, sort_keys=True, separators=(",", ":"))
        conn.execute(insert(CustodyChange).values(
            wallet=wallet, action=action, detail=body, actor=self.actor,
            accepted=reasons is None, reason=None if reasons is None else "; ".join(reasons),
            created_at=_now()))
        append(conn, AuditRecord(self.actor, f"treasury.custody.{action}",
                                 {"wallet": wallet, "change": detail},
                                 {"accepted": reasons is None, "reasons": reasons or []}))

    def changes(self, wallet: str) -> list[tuple[str, bool, str | None]]:
        """Every recorded change of ``wallet`` as (action, accepted, reason), oldest first."""
        c = CustodyChange
        with self.engine.connect() as conn:
            return [(a, bool(ok), r) for a, ok, r in conn.execute(
                select(c.action, c.accepted, c.reason).where(c.wallet == wallet).order_by(c.id))]


def _existing(topo: WalletTopology | None, wallet: str) -> WalletTopology:
    if topo is None:
        raise TopologyViolationError(wallet, [f"no wallet {wallet}: define it first"])
    return topo
