"""Forensics test helpers: hand-made events and a migrated database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from keeper.forensics import Event
from strongroom_testkit.dbtemplate import fresh_url

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC
USDC_UNIT = 10**6
_n = [0]


def event(kind: str, actor: str = "", *, at: datetime | None = None, seconds: float = 0,
          **fields: Any) -> Event:
    """An event of ``kind`` by ``actor`` at ``at`` (default ``T0 + seconds``) with a fresh key."""
    _n[0] += 1
    source = "chain" if kind == "transfer" else "audit"
    return Event(source, f"{source}:test{_n[0]}", at or T0 + timedelta(seconds=seconds), kind,
                 actor, **fields)


def transfer(sender: str, recipient: str, amount: int, *, seconds: float = 0,
             asset: str = "USDC") -> Event:
    """An on-chain transfer event."""
    return event("transfer", sender, seconds=seconds, sender=sender, recipient=recipient,
                 amount=amount, asset=asset)


def addr(n: int) -> str:
    """A distinct lower-case address for ``n``."""
    return "0x" + f"{n:040x}"


def migrated(tmp_path: Path, name: str = "forensics.db", url: str | None = None) -> str:
    """``url`` (default: a SQLite file in ``tmp_path``) with every schema the forensics tests
    touch migrated."""
    from keeper.audit import upgrade as audit_upgrade
    from keeper.compliance.migrate import upgrade as compliance_upgrade
    from keeper.forensics import upgrade as forensics_upgrade
    from keeper.ledger import upgrade as ledger_upgrade
    from keeper.partners.migrate import upgrade as partners_upgrade

    url = url or fresh_url(tmp_path / name)
    for up in (ledger_upgrade, audit_upgrade, compliance_upgrade, forensics_upgrade,
               partners_upgrade):  # the trace labels partner deposit addresses
        up(url)
    return url


def mint_usdc(accounts: Any, chain: Any, usdc: Any, to: str, amount: int) -> None:
    """Mint ``amount`` real USDC (the fork's FiatToken) to ``to`` through a configured minter."""
    master = usdc.masterMinter()
    chain.provider.set_balance(master, 10**20)
    minter = accounts[1]
    usdc.configureMinter(minter.address, 10**18, sender=accounts[master])
    usdc.mint(to, amount, sender=minter)


def labels_csv(rows: list[tuple[str, str]]) -> bytes:
    """A compliance labelled list (CSV with its end marker) of ``(address, label)`` rows."""
    lines = ["address,chain,label,source", *(f"{a},ETH,{lb},test" for a, lb in rows),
             f"__end__,{len(rows)}"]
    return ("\n".join(lines) + "\n").encode()
