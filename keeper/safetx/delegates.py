"""Safe delegates: an owner lets another address propose transactions in its name.

The Safe Transaction Service's rules (``history/serializers.py`` ``DelegateSerializerV2`` /
``DelegateDeleteSerializerV2``): the delegator signs the EIP-712 ``Delegate`` message
(:func:`keeper.safetx.messages.delegate_message_hash`, this or the previous hour's ``totp``, the
domain with or without the chain id); with a ``safe`` the delegator must be one of its current
owners, without one the delegation holds for every Safe the delegator owns. A removal is signed
the same way by the delegator or by the delegate. A delegate may then be the ``sender`` of a
proposal with exactly one signature, its own, which is never a confirmation (the proposer
recorded is the delegator). A delegation counts only while its delegator is an owner and it has
not expired. Stricter than the Safe service: only EOA / eth_sign signatures, a delegation without
``safe`` needs a delegator owning a Safe served here, an expiry must be in the future, and a
removed delegation cannot be added again with the signature that added or removed it (the
delegator signs the same message for both, so in the Safe service whoever saw either could
restore a revoked delegate for up to two hours): those signatures are kept as revoked for
:data:`REVOKED_FOR`, after which their ``totp`` is refused anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from eth_utils import keccak
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from keeper.ledger import utc
from keeper.safetx import store
from keeper.safetx.chain import BadSignature
from keeper.safetx.errors import DelegateRefused, UnknownSafe
from keeper.safetx.messages import TOTP_SECONDS, delegate_message_hash, totp_window
from keeper.safetx.models import RevokedDelegateSignature, SafeDelegate

if TYPE_CHECKING:
    from keeper.safetx.service import AuditFn, SafeTxService

D = SafeDelegate.__table__
R = RevokedDelegateSignature.__table__
MAX_LABEL = 50
REVOKED_FOR = timedelta(seconds=3 * TOTP_SECONDS)  # longer than any accepted totp lives


def signature_hash(signature: bytes) -> str:
    """How a signature is remembered (never the signature itself)."""
    return "0x" + keccak(signature).hex()


def _revoke(conn: Connection, hashes: set[str], now: datetime) -> None:
    conn.execute(delete(R).where(R.c.revoked_at < now - REVOKED_FOR))
    known = set(conn.execute(select(R.c.signature_hash)
                             .where(R.c.signature_hash.in_(hashes))).scalars())
    for h in sorted(hashes - known):
        conn.execute(insert(R).values(signature_hash=h, revoked_at=now))


@dataclass(frozen=True)
class DelegateRecord:
    """One delegation, as the Safe service lists it."""

    safe: str | None
    delegate: str
    delegator: str
    label: str
    expiry_date: datetime | None


def active_delegators(conn: Connection, safe: str, owners: Sequence[str], delegate: str,
                      now: datetime) -> list[str]:
    """The current ``owners`` of ``safe`` that delegated to ``delegate`` (for ``safe`` or for
    every Safe), unexpired at ``now``; the oldest delegation first."""
    if not owners:
        return []
    rows = conn.execute(select(D.c.delegator, D.c.expiry_date).where(
        D.c.delegate == delegate, D.c.delegator.in_(list(owners)),
        or_(D.c.safe == safe, D.c.safe.is_(None))).order_by(D.c.id)).all()
    return [r.delegator for r in rows if r.expiry_date is None or utc(r.expiry_date) > now]


def drop_removed_owner(conn: Connection, safe: str, owner: str, audit: AuditFn) -> int:
    """Delete ``owner``'s delegations for ``safe`` once it is no longer an owner (the Safe
    service does the same), audited; its delegations for every Safe stay. Returns how many."""
    gone = int(conn.execute(delete(D).where(D.c.safe == safe, D.c.delegator == owner)).rowcount)
    if gone:
        audit(conn, "keeper", "safetx.delegate_owner_removed", {"safe": safe, "owner": owner},
              {"removed": gone})
    return gone


class SafeDelegates:
    """Add, list and remove the delegates of the Safes a :class:`SafeTxService` serves."""

    def __init__(self, service: SafeTxService) -> None:
        self.service = service

    def add(self, *, safe: str | None, delegate: str, delegator: str, signature: bytes,
            label: str, expiry_date: datetime | None = None,
            actor: str = "anonymous") -> DelegateRecord:
        """Register (or relabel) ``delegate`` for ``delegator`` on the delegator's signature."""
        now = self.service.clock()
        if not 0 < len(label) <= MAX_LABEL:
            raise DelegateRefused(f"label must be 1-{MAX_LABEL} characters")
        if expiry_date is not None:
            if expiry_date.tzinfo is None:
                raise DelegateRefused("`expiry_date` must carry its time zone")
            expiry_date = expiry_date.astimezone(UTC)  # stored and compared in UTC
        if expiry_date is not None and expiry_date <= now:
            raise DelegateRefused("`expiry_date` cannot be previous to the current timestamp")
        self._check_delegator(safe, delegator)
        if not self._signed_by(delegate, signature, delegator):
            raise DelegateRefused(f"Signature does not match provided delegator={delegator}")
        key = and_(D.c.delegate == delegate, D.c.delegator == delegator,
                   D.c.safe == safe if safe is not None else D.c.safe.is_(None))
        signed = signature_hash(signature)
        with store.writing(self.service.engine) as conn:
            if conn.execute(select(R.c.signature_hash).where(
                    R.c.signature_hash == signed, R.c.revoked_at >= now - REVOKED_FOR)).first():
                raise DelegateRefused("This signature belongs to a revoked delegation; sign "
                                      "again in a later hour")
            found = conn.execute(select(D.c.id).where(key).with_for_update()).first()
            if found is None:
                conn.execute(insert(D).values(safe=safe, delegate=delegate, delegator=delegator,
                                              label=label, expiry_date=expiry_date, created=now,
                                              signature_hash=signed))
            else:
                conn.execute(update(D).where(D.c.id == found[0])
                             .values(label=label, expiry_date=expiry_date,
                                     signature_hash=signed))
            self.service.audit(conn, f"safe-owner:{delegator}", "safetx.delegate_add",
                               {"safe": safe, "delegate": delegate, "label": label,
                                "expiry_date": None if expiry_date is None
                                else expiry_date.isoformat(), "via": actor},
                               {"created": found is None})
        return DelegateRecord(safe, delegate, delegator, label, expiry_date)

    def remove(self, *, delegate: str, delegator: str, signature: bytes, safe: str | None = None,
               actor: str = "anonymous") -> int:
        """Remove ``delegator``'s delegations to ``delegate`` (for ``safe`` only when given), on
        the signature of the delegator or of the delegate; returns how many went."""
        if safe is not None:
            self._check_delegator(safe, delegator)
        if self._signed_by(delegate, signature, delegator):
            signer = delegator
        elif self._signed_by(delegate, signature, delegate):
            signer = delegate
        else:
            raise DelegateRefused(f"Signature does not match provided delegate={delegate} or "
                                  f"delegator={delegator}")
        cond = [D.c.delegate == delegate, D.c.delegator == delegator]
        if safe is not None:
            cond.append(D.c.safe == safe)
        now = self.service.clock()
        with store.writing(self.service.engine) as conn:
            revoked = {h for h in conn.execute(select(D.c.signature_hash).where(*cond)).scalars()
                       if h}
            gone = conn.execute(delete(D).where(*cond)).rowcount
            if gone:
                if signer == delegator:
                    revoked.add(signature_hash(signature))
                _revoke(conn, revoked, now)
                self.service.audit(conn, f"safe-owner:{signer}", "safetx.delegate_remove",
                                   {"safe": safe, "delegate": delegate, "delegator": delegator,
                                    "via": actor}, {"removed": gone})
        return int(gone)

    def list(self, *, safe: str | None = None, delegate: str | None = None,
             delegator: str | None = None, label: str | None = None, limit: int = 100,
             offset: int = 0) -> tuple[int, list[DelegateRecord]]:
        """(count, one page) of the delegations matching every filter given, oldest first."""
        cond: list[Any] = []
        for column, value in ((D.c.safe, safe), (D.c.delegate, delegate),
                              (D.c.delegator, delegator), (D.c.label, label)):
            if value is not None:
                cond.append(column == value)
        with self.service.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(D).where(*cond)).scalar_one()
            rows = conn.execute(select(D).where(*cond).order_by(D.c.id)
                                .limit(limit).offset(offset)).all()
        return int(count), [DelegateRecord(r.safe, r.delegate, r.delegator, r.label,
                                           None if r.expiry_date is None
                                           else utc(r.expiry_date)) for r in rows]

    # ------------------------------------------------------------------ checks
    def _check_delegator(self, safe: str | None, delegator: str) -> None:
        if safe is not None:
            try:
                owners = self.service.safe_info(safe).owners
            except UnknownSafe as exc:  # the Safe service's 400 (SafeUnavailable stays a 503)
                raise DelegateRefused(f"Safe={safe} does not exist or it's not served here") \
                    from exc
            if delegator not in owners:
                raise DelegateRefused(f"Provided delegator={delegator} is not an owner of "
                                      f"Safe={safe}")
            return
        for known in self.service.known_safes():
            if delegator in self.service.safe_info(known).owners:
                return
        raise DelegateRefused(f"Provided delegator={delegator} is not an owner of any Safe "
                              "served here")

    def _signed_by(self, delegate: str, signature: bytes, signer: str) -> bool:
        """Whether ``signature`` is ``signer``'s over the ``Delegate`` message of ``delegate``
        (this or the previous hour, with or without the chain id); a signature that cannot be
        parsed or holds more than one is refused outright."""
        for totp in totp_window():
            for chain_id in (self.service.chain.chain_id, None):
                digest = delegate_message_hash(delegate, totp, chain_id)
                try:
                    sigs = self.service.chain.parse_message_signature(digest, signature)
                except BadSignature as exc:
                    raise DelegateRefused(f"Signature is not valid: {exc}") from exc
                if len(sigs) != 1:
                    raise DelegateRefused("More than one signatures detected, just one is "
                                          "expected")
                if sigs[0].owner == signer:
                    return True
        return False
