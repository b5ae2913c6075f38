"""PSBT signing, combining, finalizing and inspection (BIP174, P2WSH sortedmulti)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import coincurve
from bitcointx.core import CMutableTransaction, CTransaction, CTxInWitness, CTxOut, CTxWitness
from bitcointx.core.key import CPubKey
from bitcointx.core.psbt import PartiallySignedTransaction
from bitcointx.core.script import (
    OP_CHECKMULTISIG,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    CScriptWitness,
    SignatureHash,
)

from keeper.btc.network import Network, bitcoin_classes
from keeper.btc.verify import verify_transaction
from keeper.keys.ecdsa import DigestSigner, der_encode


class PsbtError(Exception):
    """Base class of PSBT lifecycle errors."""


class QuorumNotReachedError(PsbtError):
    """An input has fewer valid signatures than the threshold."""


class InvalidSignatureError(PsbtError):
    """A partial signature does not verify against the transaction (e.g. tampered output)."""


class UnverifiableInputError(PsbtError):
    """An input's amount cannot be proven (no or forged ``non_witness_utxo``)."""


def load_psbt(data: bytes | str, network: Network) -> PartiallySignedTransaction:
    """Parse a base64 or binary PSBT for ``network`` (its xpub/tpub global keys).

    Anything unparseable, including inconsistent UTXO fields, raises ``PsbtError``: a PSBT is
    outsider input and must never crash the caller with a library exception.
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    try:
        with network.params():
            return PartiallySignedTransaction.from_base64_or_binary(raw.strip())
    except Exception as exc:  # noqa: BLE001 - any parser failure is a refused PSBT
        raise PsbtError(f"unreadable PSBT: {exc}") from exc


def spent_output(psbt: PartiallySignedTransaction, i: int) -> CTxOut:
    """The output input ``i`` spends, proven by its full previous transaction.

    A segwit v0 signature commits only to its own input's amount, so ``witness_utxo`` alone can
    lie about the others (the two-PSBT fee attack, CVE-2020-14199): we require
    ``non_witness_utxo``, check that it hashes to the outpoint's txid, and that any
    ``witness_utxo`` equals the output it names. Raises ``UnverifiableInputError``.
    """
    inp = psbt.inputs[i]
    prev = inp.utxo
    if not isinstance(prev, CTransaction):
        raise UnverifiableInputError(
            f"input {i}: no non_witness_utxo (full previous transaction); amount unproven")
    outpoint = psbt.unsigned_tx.vin[i].prevout
    if prev.GetTxid() != outpoint.hash:
        raise UnverifiableInputError(f"input {i}: previous transaction is not the one spent")
    if outpoint.n >= len(prev.vout):
        raise UnverifiableInputError(f"input {i}: previous transaction has no output {outpoint.n}")
    out = prev.vout[outpoint.n]
    witness_utxo = inp.witness_utxo
    if witness_utxo is not None and witness_utxo.serialize() != out.serialize():
        raise UnverifiableInputError(f"input {i}: witness_utxo disagrees with the previous tx")
    return out


def parse_multisig(ws: CScript) -> tuple[int, list[bytes]]:
    """Decode ``m <pubkeys> n OP_CHECKMULTISIG`` into ``(m, pubkeys)``."""
    ops = list(ws)
    if len(ops) < 4 or ops[-1] != OP_CHECKMULTISIG:
        raise PsbtError("witness script is not a multisig")
    m, n, keys = int(ops[0]), int(ops[-2]), [bytes(k) for k in ops[1:-2]]
    if n != len(keys) or not 1 <= m <= n:
        raise PsbtError("malformed multisig script")
    return m, keys


def _input_context(psbt: PartiallySignedTransaction, i: int) -> tuple[CScript, int, bytes]:
    ws = psbt.inputs[i].witness_script
    if ws is None or len(ws) == 0:
        raise PsbtError(f"input {i} lacks a witness_script")
    utxo = spent_output(psbt, i)
    if bytes(utxo.scriptPubKey) != bytes(ws.to_p2wsh_scriptPubKey()):
        raise PsbtError(f"input {i}: witness script does not match the spent output")
    sighash = SignatureHash(
        ws, psbt.unsigned_tx, i, SIGHASH_ALL, amount=utxo.nValue, sigversion=SIGVERSION_WITNESS_V0
    )
    return ws, utxo.nValue, bytes(sighash)


@bitcoin_classes
def sign_psbt(
    psbt: PartiallySignedTransaction,
    signers: DigestSigner | Mapping[bytes, DigestSigner],
    inputs: Iterable[int] | None = None,
) -> int:
    """Add SIGHASH_ALL signatures to the inputs (all, or ``inputs``) whose script holds our keys.

    ``signers`` is one signer (an HSM key, a software key) or a map pubkey -> signer (an HD
    cosigner's derived keys). Which inputs are ours is the caller's decision (cosigners pass
    only inputs that re-derive from their descriptor). Returns the number of signatures added.
    """
    if not isinstance(signers, Mapping):
        signers = {signers.public_key(): signers}
    signed = 0
    chosen = range(len(psbt.inputs)) if inputs is None else inputs
    for i in chosen:
        inp = psbt.inputs[i]
        if inp.witness_script is None or len(inp.witness_script) == 0:
            continue
        _, keys = parse_multisig(inp.witness_script)
        for pub in keys:
            signer = signers.get(pub)
            if signer is None or CPubKey(pub) in inp.partial_sigs:
                continue
            _, _, sighash = _input_context(psbt, i)
            r, s = signer.sign_digest(sighash)
            inp.partial_sigs[CPubKey(pub)] = der_encode(r, s) + bytes([SIGHASH_ALL])
            signed += 1
    return signed


@bitcoin_classes
def combine(*psbts: PartiallySignedTransaction) -> PartiallySignedTransaction:
    """BIP174 combiner: merge signatures of PSBTs of the same unsigned transaction."""
    if not psbts:
        raise PsbtError("nothing to combine")
    first = psbts[0]
    for other in psbts[1:]:
        if other.unsigned_tx.GetTxid() != first.unsigned_tx.GetTxid():
            raise PsbtError("PSBTs spend different transactions")
    out = first
    for other in psbts[1:]:
        try:
            out = out.combine(other)
        except (ValueError, AssertionError) as exc:  # conflicting scripts, UTXOs, keys
            raise PsbtError(f"PSBTs disagree beyond signatures: {exc}") from exc
    return out


@bitcoin_classes
def merge_signatures(
    base: PartiallySignedTransaction, signed: PartiallySignedTransaction
) -> PartiallySignedTransaction:
    """``base`` plus the partial signatures found in ``signed``, and nothing else of it.

    A cosigner contributes signatures only: global xpubs, scripts, UTXOs or derivations it
    added or altered are ignored, so whoever is shown the PSBT next sees what the coordinator
    built. Signatures are not checked here (``signature_status`` does that on the result).
    """
    if signed.unsigned_tx.GetTxid() != base.unsigned_tx.GetTxid():
        raise PsbtError("PSBTs spend different transactions")
    if len(signed.inputs) != len(base.inputs):
        raise PsbtError("PSBTs have different input counts")
    out = base.clone()
    for dst, src in zip(out.inputs, signed.inputs, strict=True):
        for pub, sig in src.partial_sigs.items():
            dst.partial_sigs.setdefault(pub, sig)
    return out


def _valid_sigs(psbt: PartiallySignedTransaction, i: int) -> tuple[int, list[bytes], dict]:
    ws, _, sighash = _input_context(psbt, i)
    m, keys = parse_multisig(ws)
    good: dict[bytes, bytes] = {}
    for pub, sig in psbt.inputs[i].partial_sigs.items():
        pub_b = bytes(pub)
        if pub_b not in keys:
            raise InvalidSignatureError(f"input {i}: signature by a key not in the script")
        if sig[-1] != SIGHASH_ALL:
            raise InvalidSignatureError(f"input {i}: only SIGHASH_ALL is accepted")
        try:
            ok = coincurve.PublicKey(pub_b).verify(sig[:-1], sighash, hasher=None)
        except Exception:  # noqa: BLE001 - malformed DER counts as invalid
            ok = False
        if not ok:
            raise InvalidSignatureError(f"input {i}: signature does not verify (tampered PSBT?)")
        good[pub_b] = bytes(sig)
    return m, keys, good


@bitcoin_classes
def signature_status(psbt: PartiallySignedTransaction) -> list[tuple[int, int]]:
    """Per input ``(valid signatures, threshold)``."""
    out = []
    for i in range(len(psbt.inputs)):
        m, _, good = _valid_sigs(psbt, i)
        out.append((len(good), m))
    return out


def has_quorum(psbt: PartiallySignedTransaction) -> bool:
    """True when every input carries at least ``m`` valid signatures."""
    return all(n >= m for n, m in signature_status(psbt))


@bitcoin_classes
def finalize(psbt: PartiallySignedTransaction) -> CTransaction:
    """Finalize every input, extract the transaction and verify it by script.

    Signatures are placed in script key order (the first ``m`` valid ones), as
    CHECKMULTISIG requires. Raises ``QuorumNotReachedError`` / ``InvalidSignatureError``; a
    transaction is returned only if ``verify_transaction`` passes on all inputs.
    """
    stacks = []
    prevouts = []
    for i, inp in enumerate(psbt.inputs):
        m, keys, good = _valid_sigs(psbt, i)
        chosen = [good[k] for k in keys if k in good][:m]
        if len(chosen) < m:
            raise QuorumNotReachedError(f"input {i}: {len(chosen)} of {m} signatures")
        ws = inp.witness_script
        stacks.append(CScriptWitness([b"", *chosen, bytes(ws)]))
        spent = spent_output(psbt, i)
        prevouts.append((bytes(spent.scriptPubKey), spent.nValue))
    tx = CMutableTransaction.from_instance(psbt.unsigned_tx)
    tx.wit = CTxWitness([CTxInWitness(s) for s in stacks])
    final = tx.to_immutable()
    verify_transaction(final, prevouts)
    for inp, stack in zip(psbt.inputs, stacks, strict=True):
        inp.final_script_witness = stack
        # BIP174 finalizer: only the UTXO and the final witness remain (else unserializable)
        inp.partial_sigs.clear()
        inp.derivation_map.clear()
        inp.witness_script = CScript()
    return final


@dataclass(frozen=True)
class OutputLine:
    """One output as a cosigner sees it; ``amount`` in satoshis."""

    address: str
    amount: int
    is_change: bool


@dataclass(frozen=True)
class InputLine:
    """One input as a cosigner sees it: the outpoint, its proven amount (satoshis) and where it
    re-derives from the cosigner's descriptor (``(branch, index)``, ``None`` when foreign)."""

    txid: str
    vout: int
    amount: int
    owned: tuple[int, int] | None


@dataclass(frozen=True)
class PsbtSummary:
    """What a PSBT spends and pays: inputs, outputs, verified change, fee (all satoshis)."""

    inputs_total: int
    outputs: tuple[OutputLine, ...]
    fee: int
    signatures: tuple[tuple[int, int], ...]
    inputs: tuple[InputLine, ...] = ()

    @property
    def paid_out(self) -> int:
        """Total to non-change outputs."""
        return sum(o.amount for o in self.outputs if not o.is_change)
