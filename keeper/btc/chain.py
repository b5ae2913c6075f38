"""Chain side as an interface (UTXO source + broadcaster) and a local, script-checking chain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bitcointx.core import COutPoint, CTransaction, CTxIn, CTxOut, b2lx
from bitcointx.core.script import CScript

from keeper.btc.network import bitcoin_classes
from keeper.btc.verify import verify_transaction


@dataclass(frozen=True)
class Utxo:
    """An unspent output; ``value`` in satoshis."""

    txid: str
    vout: int
    value: int
    script_pubkey: bytes

    @property
    def outpoint(self) -> tuple[str, int]:
        """``(txid, vout)``."""
        return (self.txid, self.vout)


class UtxoSource(Protocol):
    """Lists unspent outputs paying to the given scripts, and serves their full transactions.

    PSBTs carry each input's whole previous transaction (``non_witness_utxo``) so a cosigner can
    check the amount it signs for against the txid; the source must therefore keep transactions,
    not only outputs.
    """

    def list_unspent(self, scripts: Iterable[bytes]) -> list[Utxo]:
        """Unspent outputs whose scriptPubKey is in ``scripts``."""
        ...

    def get_transaction(self, txid: str) -> CTransaction:
        """The full transaction ``txid`` (raises ``KeyError`` if unknown)."""
        ...


class Broadcaster(Protocol):
    """Relays a fully signed, verified transaction."""

    @bitcoin_classes
    def broadcast(self, tx: CTransaction) -> str:
        """Submit ``tx``; returns its txid or raises."""
        ...


class TransactionRejectedError(Exception):
    """The local chain refused a transaction (missing input, bad script, value overflow)."""


class LocalChain:
    """In-process UTXO set that accepts a transaction only after checking every input script.

    Stands in for a node where none exists (no bitcoind in the registries): it is both the
    ``UtxoSource`` and the ``Broadcaster`` for tests and the local stack.
    """

    def __init__(self) -> None:
        self.utxos: dict[tuple[str, int], Utxo] = {}
        self.transactions: dict[str, CTransaction] = {}
        self.accepted: list[CTransaction] = []
        self._n = 0

    @bitcoin_classes
    def fund(self, script_pubkey: bytes, value: int) -> Utxo:
        """Create a spendable output (as if mined) paying ``value`` sats to a script."""
        if not isinstance(value, int) or value <= 0:
            raise ValueError("value must be a positive integer number of satoshis")
        self._n += 1
        seed = hashlib.sha256(b"strongroom-local-funding" + self._n.to_bytes(8, "big")).digest()
        tx = CTransaction(
            [CTxIn(COutPoint(seed, 0xFFFFFFFF))], [CTxOut(value, CScript(script_pubkey))]
        )
        utxo = Utxo(b2lx(tx.GetTxid()), 0, value, bytes(script_pubkey))
        self.transactions[utxo.txid] = tx
        self.utxos[utxo.outpoint] = utxo
        return utxo

    def get_transaction(self, txid: str) -> CTransaction:
        """A funding or accepted transaction by txid."""
        return self.transactions[txid]

    def list_unspent(self, scripts: Iterable[bytes]) -> list[Utxo]:
        """Unspent outputs paying to ``scripts``."""
        wanted = {bytes(s) for s in scripts}
        return [u for u in self.utxos.values() if u.script_pubkey in wanted]

    def broadcast(self, tx: CTransaction) -> str:
        """Validate (inputs unspent, scripts pass, no inflation) then apply ``tx``."""
        spent = []
        for txin in tx.vin:
            key = (b2lx(txin.prevout.hash), txin.prevout.n)
            if key not in self.utxos:
                raise TransactionRejectedError(f"input {key[0]}:{key[1]} missing or spent")
            spent.append(self.utxos[key])
        if sum(o.nValue for o in tx.vout) > sum(u.value for u in spent):
            raise TransactionRejectedError("outputs exceed inputs")
        try:
            verify_transaction(tx, [(u.script_pubkey, u.value) for u in spent])
        except Exception as exc:
            raise TransactionRejectedError(f"script verification failed: {exc}") from exc
        txid = b2lx(tx.GetTxid())
        for u in spent:
            del self.utxos[u.outpoint]
        for n, out in enumerate(tx.vout):
            self.utxos[(txid, n)] = Utxo(txid, n, out.nValue, bytes(out.scriptPubKey))
        self.transactions[txid] = tx
        self.accepted.append(tx)
        return txid
