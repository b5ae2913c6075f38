"""Scheduled jobs of reconciliation (registered in :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from keeper.audit import record_in
from keeper.jobs.scheduler import JobRun
from keeper.recon.breaks import BreakBook, RunRow

log = logging.getLogger("keeper.recon")

OVERDUE_ALERT = "recon_break_overdue"


def break_book(host: Any) -> BreakBook:
    """The keeper's break book: every run, break, resolution and breaker change is audited in
    its own transaction (:func:`keeper.audit.record_in`)."""
    return BreakBook(host.ledger.engine, audit=record_in)


def escalate_overdue(run: JobRun) -> int:
    """Raise one ``recon_break_overdue`` alert per open break past its due time (the ledger
    keeps one alert per ref, so a break escalates once); returns how many were new."""
    new = 0
    for b in break_book(run.host).overdue():
        message = (f"recon break {b.id} ({b.size_class}, {b.asset} {b.subject}) open since "
                   f"{b.created_at.isoformat()}, due {b.due_at.isoformat() if b.due_at else '-'}")
        new += bool(run.host.ledger.raise_alert(OVERDUE_ALERT, message, f"recon_overdue:{b.id}"))
    return new


def evm_locations(host: Any) -> list[str]:
    """The omnibus locations type 1 always checks: the deployment's vault and its tier wallets
    (``tier_address(1|2)`` read from the vault at the latest block), so funds at a Multisig
    the ledger knows nothing about still show up as breaks."""
    from keeper.chain import tier_location, vault_location

    vault = host.follower.cfg.vault.lower()
    tiers = host.follower.reader.tier_addresses(vault)
    return [vault_location(vault), *(tier_location(n, a) for a, n in sorted(tiers.items()))]


def type1_hourly(run: JobRun) -> int:
    """Type 1 (sub-ledger vs chain) at the follower's block, once per hour slot (run key
    ``type1:<YYYY-MM-DDTHH>``: a restarted job gets the stored run back); returns the run id.
    Prices come from ``settings.prices_file``; the vault and its tier wallets are always checked
    (:func:`evm_locations`)."""
    from keeper.prices import StaticPrices
    from keeper.recon import Reconciler

    host = run.host
    rec = Reconciler(host.ledger.engine, break_book(host), StaticPrices.from_settings(host.settings))
    return rec.run_type1(host.follower.reader, run_key=f"type1:{run.slot:%Y-%m-%dT%H}",
                         locations=evm_locations(host)).id


DAILY_BREAKS_ALERT = "recon_daily_breaks"
DAILY_FAILED_ALERT = "recon_daily_failed"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def daily_report(run: JobRun) -> dict[str, Any]:
    """The daily reconciliation report (run keys ``daily:type<N>:<date>``): type 1 always, types
    2 and 3 when core banking is configured (skipped with a logged reason when ``atlas_url`` is
    empty). Each run is written as HTML and PDF under ``data_dir/reports/<date>/`` (each file
    whole or not at all); any break raises one ``recon_daily_breaks`` alert a day. A type that
    fails does not stop the others; the job then raises (its run is recorded failed) after
    alerting ``recon_daily_failed``. Returns ``{type: run id or "skipped"}`` and the break count.
    """
    from keeper.integrations.corebanking import atlas_from_settings
    from keeper.prices import StaticPrices
    from keeper.recon import Reconciler, RpcSupply

    host = run.host
    day = run.slot.date().isoformat()
    book = break_book(host)
    rec = Reconciler(host.ledger.engine, book, StaticPrices.from_settings(host.settings))
    reader = host.follower.reader
    done: dict[str, Any] = {}
    errors: list[str] = []

    def attempt(name: str, fn: Callable[[], RunRow]) -> None:
        try:
            done[name] = fn().id
        except Exception as exc:  # noqa: BLE001 - one failed type must not hide the others
            log.warning("daily recon %s failed: %s: %s", name, type(exc).__name__, exc)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")

    attempt("type1", lambda: rec.run_type1(reader, run_key=f"daily:type1:{day}",
                                           locations=evm_locations(host)))
    bank = atlas_from_settings(host.settings)
    if bank is None:
        log.info("daily recon: types 2 and 3 skipped: no core banking configured (atlas_url empty)")
        done["type2"] = done["type3"] = "skipped"
    else:
        with closing(bank):
            attempt("type2", lambda: rec.run_type2(bank, run_key=f"daily:type2:{day}"))
            attempt("type3", lambda: rec.run_type3(
                bank, RpcSupply(reader), reader.head() - host.follower.cfg.confirmations,
                run_key=f"daily:type3:{day}"))
    out = Path(host.settings.data_dir) / "reports" / day
    breaks = 0
    for name, run_id in done.items():
        if run_id == "skipped":
            continue
        breaks += len(book.breaks(run_id))
        _write_atomically(out / f"recon-{name}.html", str(rec.render(run_id, "html")).encode())
        _write_atomically(out / f"recon-{name}.pdf", bytes(rec.render(run_id, "pdf")))  # type: ignore[arg-type]
    if breaks:
        host.ledger.raise_alert(DAILY_BREAKS_ALERT, f"daily reconciliation of {day}: {breaks} "
                                f"break(s); reports in {out}", f"recon_daily:{day}")
    if errors:
        host.ledger.raise_alert(DAILY_FAILED_ALERT, f"daily reconciliation of {day} incomplete: "
                                + "; ".join(errors), f"recon_daily_failed:{day}")
        raise RuntimeError("daily reconciliation incomplete: " + "; ".join(errors))
    return {**done, "breaks": breaks}
