"""Multisig wallet: tracked UTXOs, coin selection, PSBT creation with change."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bitcointx.core import COutPoint, CTransaction, CTxIn, CTxOut, b2lx, lx
from bitcointx.core.key import BIP32Path, CPubKey
from bitcointx.core.psbt import (
    PartiallySignedTransaction,
    PSBT_Input,
    PSBT_KeyDerivationInfo,
    PSBT_Output,
)
from bitcointx.core.script import CScript
from bitcointx.segwit_addr import decode as segwit_decode
from bitcointx.segwit_addr import encode as segwit_encode
from bitcointx.wallet import CCoinExtPubKey

from keeper.btc.chain import Utxo, UtxoSource
from keeper.btc.descriptor import MultisigDescriptor
from keeper.btc.network import Network, bitcoin_classes
from keeper.btc.psbt import (
    InputLine,
    OutputLine,
    PsbtSummary,
    signature_status,
    spent_output,
)

#: Bitcoin Core's default dust relay fee (sat/kvB) and default fee-rate ceiling (sat/vB).
DUST_RELAY_FEE = 3000
DEFAULT_MAX_FEE_RATE = 1000


class InsufficientFundsError(Exception):
    """Tracked UTXOs do not cover amount + fee."""


class FeeRateTooHighError(ValueError):
    """The requested fee rate is above the wallet's configured ceiling."""


class DustPaymentError(ValueError):
    """A payment is below the dust threshold of its output script (nodes would not relay it)."""


def dust_threshold(spk: bytes) -> int:
    """Smallest non-dust value (sats) of an output paying ``spk``, as Bitcoin Core computes it:
    the cost at the dust relay fee of creating the output and later spending it (segwit
    outputs: 67 vB to spend, legacy: 148)."""
    out_size = 8 + (1 if len(spk) < 253 else 3) + len(spk)
    spend = 32 + 4 + 1 + 107 // 4 + 4 if segwit_version(spk) is not None else 148
    return (out_size + spend) * DUST_RELAY_FEE // 1000


def address_to_script(address: str, network: Network) -> bytes:
    """scriptPubKey of a segwit (bech32/bech32m) address on ``network``."""
    ver, prog = segwit_decode(network.hrp, address)
    if ver is None or prog is None:
        raise ValueError(f"not a {network.name} segwit address: {address!r}")
    opcode = 0 if ver == 0 else 0x50 + ver
    return bytes([opcode, len(prog)]) + bytes(prog)


def segwit_version(spk: bytes) -> int | None:
    """Witness version of a segwit scriptPubKey (``OP_n <2..40-byte program>``), else None."""
    if 4 <= len(spk) <= 42 and (spk[0] == 0 or 0x51 <= spk[0] <= 0x60) and spk[1] == len(spk) - 2:
        return 0 if spk[0] == 0 else spk[0] - 0x50
    return None


def script_to_address(spk: bytes, network: Network) -> str:
    """Segwit address of a scriptPubKey (``?`` + hex when not segwit)."""
    ver = segwit_version(spk)
    if ver is not None:
        return segwit_encode(network.hrp, ver, spk[2:])
    return "?" + spk.hex()


def _input_vbytes_x4(threshold: int, n: int) -> int:
    """Weight of one P2WSH m-of-n input (worst-case 73-byte signatures)."""
    ws_len = 3 + 34 * n
    witness = 1 + 1 + threshold * (1 + 73) + (1 if ws_len < 253 else 3) + ws_len
    return 41 * 4 + witness


def estimate_vsize(threshold: int, n: int, n_inputs: int, out_scripts: Sequence[int]) -> int:
    """Virtual size of a spend of ``n_inputs`` multisig inputs to outputs of given script sizes."""
    def varint(x: int) -> int:
        return 1 if x < 253 else 3

    base = 4 + 4 + varint(n_inputs) + varint(len(out_scripts))
    base += sum(8 + varint(s) + s for s in out_scripts)
    weight = base * 4 + 2 + n_inputs * _input_vbytes_x4(threshold, n)
    return math.ceil(weight / 4)


@dataclass
class MultisigWallet:
    """Watch-only wallet over a ``MultisigDescriptor`` (receive branch 0, change branch 1).

    Address window: indices below ``next_receive`` / ``next_change`` are used (issued, seen
    funded, or taken by a spend); ``lookahead`` (the gap limit) more beyond them are watched.
    Both counters only grow: finding funds at index ``i`` moves the counter past ``i`` and the
    window with it, so a restart never re-uses a change address. ``on_advance(branch, next)``
    is called on every move (``BtcStore`` persists it).
    """

    descriptor: MultisigDescriptor
    source: UtxoSource
    lookahead: int = 100
    next_change: int = 0
    max_fee_rate: int = DEFAULT_MAX_FEE_RATE
    next_receive: int = 0
    name: str | None = None
    on_advance: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_fee_rate, int) or self.max_fee_rate < 1:
            raise ValueError("max_fee_rate is an integer >= 1 sat/vB")
        if not isinstance(self.lookahead, int) or self.lookahead < 1:
            raise ValueError("lookahead (gap limit) is an integer >= 1")
        self._scripts: dict[bytes, tuple[int, int]] = {}
        self._watched = [0, 0]
        self._widen()

    @property
    def network(self) -> Network:
        """The descriptor's network."""
        return self.descriptor.network

    def next_index(self, branch: int) -> int:
        """First unused index of ``branch`` (0 receive, 1 change)."""
        return self.next_receive if branch == 0 else self.next_change

    def advance(self, branch: int, next_index: int) -> None:
        """Mark indices below ``next_index`` of ``branch`` used (never moves back)."""
        if next_index <= self.next_index(branch):
            return
        if branch == 0:
            self.next_receive = next_index
        else:
            self.next_change = next_index
        if self.on_advance is not None:
            self.on_advance(branch, next_index)
        self._widen()

    def _widen(self) -> None:
        for branch in (0, 1):
            self.watch(branch, self.next_index(branch) + self.lookahead)

    def watch(self, branch: int, upto: int) -> None:
        """Track scripts ``0..upto-1`` of ``branch``."""
        for i in range(self._watched[branch], upto):
            spk = bytes(self.descriptor.script_pubkey(branch, i))
            self._scripts.setdefault(spk, (branch, i))
        self._watched[branch] = max(self._watched[branch], upto)

    def locate(self, spk: bytes) -> tuple[int, int] | None:
        """(branch, index) of one of our scripts, else None."""
        return self._scripts.get(bytes(spk))

    def utxos(self, exclude: Iterable[tuple[str, int]] = ()) -> list[Utxo]:
        """Our unspent outputs, minus ``exclude`` (outpoints locked by pending spends).

        Funds found near the window's edge advance it and the source is asked again, until a
        full gap of unused addresses follows the last used one on both branches.
        """
        while True:
            found = self.source.list_unspent(self._scripts)
            top = [self.next_receive, self.next_change]
            for u in found:
                branch, index = self._scripts[bytes(u.script_pubkey)]
                top[branch] = max(top[branch], index + 1)
            if top == [self.next_receive, self.next_change]:
                break
            for branch in (0, 1):
                self.advance(branch, top[branch])
        skip = set(exclude)
        return [u for u in found if u.outpoint not in skip]

    def issue_receive(self) -> tuple[int, str]:
        """Hand out the next receive address (index and address); the window follows it."""
        index = self.next_receive
        self.advance(0, index + 1)
        return index, self.descriptor.address(index, 0)

    def global_xpubs(self) -> dict[CCoinExtPubKey, PSBT_KeyDerivationInfo]:
        """``PSBT_GLOBAL_XPUB`` entries: each HD cosigner's account xpub with its origin.

        Hardware signers (Coldcard, Trezor, ...) need the complete set to verify that a change
        output pays back to this multisig. A fixed, non-HD key (the HSM cosigner's) has no
        extended key, so it is absent: inventing one (e.g. a zero chain code) would claim
        child keys the HSM never uses. Its per-input/output derivation entries still carry
        ``hash160(pubkey)[:4]`` and an empty path. A device that insists on an xpub for every
        cosigner therefore shows change of a wallet with a fixed key as an external payment;
        wallets that must be verified on such devices use HD cosigners only (the HSM can hold
        an HD cosigner as a wrapped seed, see ``HdCosigner.from_wrapped_seed``).
        """
        out = {}
        with self.network.params():
            for k in self.descriptor.keys:
                if k.xpub is not None:
                    out[CCoinExtPubKey(k.xpub.serialize())] = PSBT_KeyDerivationInfo(
                        k.fingerprint, BIP32Path(list(k.origin), is_partial=False))
        return out

    def _derivations(self, branch: int, index: int) -> dict:
        return {
            CPubKey(pub): PSBT_KeyDerivationInfo(fp, BIP32Path(list(path), is_partial=False))
            for pub, fp, path in self.descriptor.child_keys(branch, index)
        }

    @bitcoin_classes
    def create_psbt(
        self,
        payments: Sequence[tuple[str, int]],
        fee_rate: int,
        exclude: Iterable[tuple[str, int]] = (),
        change_index: int | None = None,
    ) -> PartiallySignedTransaction:
        """Build an unsigned PSBT paying ``payments`` [(address, sats)] at ``fee_rate`` sat/vB.

        Coin selection: largest-first over tracked UTXOs until amount + fee is covered;
        change (above dust) goes to ``change_index`` (default: the next unused change index,
        a coordinator sharing a database passes the one it reserved there).
        """
        if not payments or any(not isinstance(a, int) or a <= 0 for _, a in payments):
            raise ValueError("payments need positive integer satoshi amounts")
        if not isinstance(fee_rate, int) or fee_rate < 1:
            raise ValueError("fee_rate is an integer >= 1 sat/vB")
        if fee_rate > self.max_fee_rate:
            raise FeeRateTooHighError(
                f"fee rate {fee_rate} sat/vB exceeds the ceiling of {self.max_fee_rate} sat/vB")
        pay_scripts = [address_to_script(addr, self.network) for addr, _ in payments]
        for (addr, amount), spk in zip(payments, pay_scripts, strict=True):
            if amount < dust_threshold(spk):
                raise DustPaymentError(
                    f"payment of {amount} sat to {addr} is below the dust threshold of "
                    f"{dust_threshold(spk)} sat")
        target = sum(a for _, a in payments)
        m, n = self.descriptor.threshold, len(self.descriptor.keys)
        change_at = self.next_change if change_index is None else change_index
        change_spk = bytes(self.descriptor.script_pubkey(1, change_at))
        chosen: list[Utxo] = []
        total = 0
        fee = 0
        for u in sorted(self.utxos(exclude), key=lambda u: (-u.value, u.txid, u.vout)):
            chosen.append(u)
            total += u.value
            sizes = [len(s) for s in pay_scripts]
            fee = fee_rate * estimate_vsize(m, n, len(chosen), [*sizes, len(change_spk)])
            if total >= target + fee:
                break
        else:
            raise InsufficientFundsError(f"have {total} sats, need {target} + fee {fee}")
        change = total - target - fee
        if change < dust_threshold(change_spk):
            change = 0  # dust goes to the fee
        vin = [CTxIn(COutPoint(lx(u.txid), u.vout), nSequence=0xFFFFFFFD) for u in chosen]
        vout = [CTxOut(a, CScript(s)) for (_, a), s in zip(payments, pay_scripts, strict=True)]
        if change:
            vout.append(CTxOut(change, CScript(change_spk)))
        psbt = PartiallySignedTransaction(
            unsigned_tx=CTransaction(vin, vout, nVersion=2), xpubs=self.global_xpubs())
        for i, u in enumerate(chosen):
            loc = self.locate(u.script_pubkey)
            assert loc is not None  # noqa: S101 - utxos() only returns our scripts
            inp = psbt.inputs[i]
            inp.set_utxo(self.source.get_transaction(u.txid), psbt.unsigned_tx)
            inp.witness_script = self.descriptor.witness_script(*loc)
            inp.derivation_map.update(self._derivations(*loc))
        if change:
            out = psbt.outputs[len(vout) - 1]
            out.witness_script = self.descriptor.witness_script(1, change_at)
            out.derivation_map.update(self._derivations(1, change_at))
            self.advance(1, change_at + 1)
        return psbt

    def summarize(self, psbt: PartiallySignedTransaction) -> PsbtSummary:
        """Outputs (change verified against our descriptor, not trusted from the PSBT) and fee."""
        return summarize(psbt, self.descriptor)


def derivation_hints(fields: PSBT_Input | PSBT_Output) -> list[tuple[bytes, list[int]]]:
    """The (fingerprint, path) claims of a PSBT input or output: hints, never proof."""
    return [(bytes(info.master_fp), list(info.path)) for info in fields.derivation_map.values()]


def owned_input(psbt: PartiallySignedTransaction, i: int, descriptor: MultisigDescriptor
                ) -> tuple[int, int] | None:
    """``(branch, index)`` if input ``i`` spends a script of ``descriptor`` with that script as
    its witness script, else ``None``. The spent output is the proven one (``spent_output``)."""
    spk = bytes(spent_output(psbt, i).scriptPubKey)
    loc = descriptor.locate(spk, derivation_hints(psbt.inputs[i]))
    ws = psbt.inputs[i].witness_script
    if loc is None or ws is None or bytes(ws) != bytes(descriptor.witness_script(*loc)):
        return None
    return loc


@bitcoin_classes
def summarize(psbt: PartiallySignedTransaction, descriptor: MultisigDescriptor) -> PsbtSummary:
    """What ``psbt`` spends and pays; amounts proven by previous transactions, change and our
    inputs recognised only where they re-derive from ``descriptor``."""
    inputs = []
    for i, txin in enumerate(psbt.unsigned_tx.vin):
        amount = spent_output(psbt, i).nValue
        inputs.append(InputLine(b2lx(txin.prevout.hash), txin.prevout.n, amount,
                                owned_input(psbt, i, descriptor)))
    inputs_total = sum(line.amount for line in inputs)
    lines = []
    for out, psbt_out in zip(psbt.unsigned_tx.vout, psbt.outputs, strict=True):
        spk = bytes(out.scriptPubKey)
        loc = descriptor.locate(spk, derivation_hints(psbt_out))
        lines.append(
            OutputLine(script_to_address(spk, descriptor.network), out.nValue,
                       loc is not None and loc[0] == 1)
        )
    fee = inputs_total - sum(o.amount for o in lines)
    return PsbtSummary(inputs_total, tuple(lines), fee, tuple(signature_status(psbt)),
                       tuple(inputs))
