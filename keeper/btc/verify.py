"""Script verification of finalized transactions with python-bitcointx's interpreter."""

from __future__ import annotations

from collections.abc import Sequence

from bitcointx.core import CTransaction
from bitcointx.core.script import CScript
from bitcointx.core.scripteval import (
    SCRIPT_VERIFY_CLEANSTACK,
    SCRIPT_VERIFY_DERSIG,
    SCRIPT_VERIFY_LOW_S,
    SCRIPT_VERIFY_NULLDUMMY,
    SCRIPT_VERIFY_NULLFAIL,
    SCRIPT_VERIFY_P2SH,
    SCRIPT_VERIFY_STRICTENC,
    SCRIPT_VERIFY_WITNESS,
    VerifyScript,
)

#: Policy flags we hold ourselves to (segwit, strict DER, low-s, NULLDUMMY, NULLFAIL).
VERIFY_FLAGS = {
    SCRIPT_VERIFY_P2SH,
    SCRIPT_VERIFY_WITNESS,
    SCRIPT_VERIFY_DERSIG,
    SCRIPT_VERIFY_STRICTENC,
    SCRIPT_VERIFY_LOW_S,
    SCRIPT_VERIFY_NULLDUMMY,
    SCRIPT_VERIFY_NULLFAIL,
    SCRIPT_VERIFY_CLEANSTACK,
}


def verify_transaction(tx: CTransaction, prevouts: Sequence[tuple[bytes, int]]) -> None:
    """Run every input through ``VerifyScript``; raises on the first failure.

    ``prevouts[i]`` is ``(scriptPubKey, value_sats)`` of the output spent by input ``i``.
    """
    if len(prevouts) != len(tx.vin):
        raise ValueError("one prevout per input is required")
    for i, (txin, (spk, value)) in enumerate(zip(tx.vin, prevouts, strict=True)):
        witness = tx.wit.vtxinwit[i].scriptWitness if i < len(tx.wit.vtxinwit) else None
        VerifyScript(
            txin.scriptSig, CScript(spk), tx, i, flags=VERIFY_FLAGS, amount=value,
            witness=witness,
        )
