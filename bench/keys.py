"""Keys benchmark: HSM signatures/s (p50/p99) vs software, failover, and a 100-input 3-of-5 PSBT.

Every HSM signature is verified against the pinned public key before it is returned; the
``verify only`` line shows what that check costs on its own.

Run: .venv/bin/python bench/keys.py   (creates a throw-away SoftHSM2 token in a tmp dir)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keeper.btc import (  # noqa: E402
    REGTEST,
    HdCosigner,
    KeyCosigner,
    LocalChain,
    MultisigDescriptor,
    MultisigWallet,
    combine,
    finalize,
    fixed_key,
    ranged_key,
)
from keeper.keys.ecdsa import SoftwareSigner, verify_digest  # noqa: E402
from keeper.keys.hd import ExtendedPrivateKey  # noqa: E402
from keeper.keys.hsm import (  # noqa: E402
    FailoverSigner,
    HsmSigner,
    backup_token,
    ensure_local_token,
)

N_SIGS = 3000
N_INPUTS = 100
BIP48 = "m/48h/1h/0h/2h"


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def bench_signer(name: str, signer, n: int) -> float:
    """Sign ``n`` random digests; print rate and per-signature p50/p99 (µs)."""
    digests = [os.urandom(32) for _ in range(n)]
    lat = []
    t0 = time.perf_counter()
    for d in digests:
        t = time.perf_counter()
        signer.sign_digest(d)
        lat.append(time.perf_counter() - t)
    rate = n / (time.perf_counter() - t0)
    print(f"{name:32} {rate:9.0f} sig/s  p50 {_pct(lat, .5) * 1e6:7.0f} us"
          f"  p99 {_pct(lat, .99) * 1e6:7.0f} us")
    return rate


class _VerifyOnly:
    """Times the pinned-key check alone: verifies one fixed signature per digest."""

    def __init__(self, signer: SoftwareSigner) -> None:
        self._pub = signer.public_key()
        self._digest = os.urandom(32)
        self._sig = signer.sign_digest(self._digest)

    def sign_digest(self, digest: bytes) -> tuple[int, int]:
        assert verify_digest(self._pub, self._digest, *self._sig)  # noqa: S101
        return self._sig


def bench_threads(cfg, labels: tuple[str, ...], n_each: int) -> None:
    """One thread per key label signing on the same token: aggregate rate (calls into one
    module are serialised, see keeper.keys.hsm.session)."""
    signers = [HsmSigner(cfg, label) for label in labels]
    for s in signers:
        s.sign_digest(os.urandom(32))
    threads = [threading.Thread(target=lambda s=s: [s.sign_digest(os.urandom(32))
                                                     for _ in range(n_each)])
               for s in signers]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = len(signers) * n_each / (time.perf_counter() - t0)
    print(f"{f'HSM, {len(signers)} threads x 1 key each':32} {rate:9.0f} sig/s (aggregate)")


def bench_failover(tmp: Path) -> None:
    """Signature rate through FailoverSigner, then the time to the first signature after the
    primary token disappears (switch + probe + sign) and after a lost backup session."""
    primary = ensure_local_token(tmp / "primary")
    backup = backup_token(primary, tmp / "backup")
    signer = FailoverSigner(HsmSigner(primary, "eth-hot"), HsmSigner(backup, "eth-hot"))
    bench_signer("HSM via FailoverSigner (primary)", signer, N_SIGS)
    shutil.move(primary.conf.parent / "tokens", tmp / "primary-gone")
    t = time.perf_counter()
    signer.sign_digest(os.urandom(32))
    switch = time.perf_counter() - t
    assert signer.active == "backup"  # noqa: S101
    bench_signer("HSM via FailoverSigner (backup)", signer, N_SIGS)
    shutil.move(backup.conf.parent / "tokens", tmp / "backup-away")
    try:
        signer.sign_digest(os.urandom(32))
    except Exception:  # noqa: BLE001, S110 - both tokens down: expected to fail
        pass
    shutil.move(tmp / "backup-away", backup.conf.parent / "tokens")
    t = time.perf_counter()
    signer.sign_digest(os.urandom(32))
    reconnect = time.perf_counter() - t
    print(f"failover: first signature after primary loss {switch * 1e3:.1f} ms; "
          f"after backup token returns (reconnect + reinit) {reconnect * 1e3:.1f} ms")


def bench_psbt(hsm: HsmSigner) -> None:
    """Create + sign (3 cosigners: 2 HD software, 1 HSM) + finalize a 100-input 3-of-5."""
    masters = [ExtendedPrivateKey.from_seed(hashlib.sha256(b"bench%d" % i).digest())
               for i in range(4)]
    keys = [ranged_key(m.fingerprint(), BIP48, m.derive(BIP48).public().serialize())
            for m in masters]
    desc = MultisigDescriptor(3, (*keys, fixed_key(hsm.public_key())), REGTEST)
    chain = LocalChain()
    wallet = MultisigWallet(desc, chain, lookahead=N_INPUTS + 1)
    for i in range(N_INPUTS):
        chain.fund(bytes(desc.script_pubkey(0, i)), 50_000)
    dest = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    hd = [HdCosigner(masters[0], desc), HdCosigner(masters[1], desc)]
    t0 = time.perf_counter()
    psbt = wallet.create_psbt([(dest, N_INPUTS * 50_000 - 60_000)], fee_rate=2)
    t1 = time.perf_counter()
    parts = []
    for cos in (*hd, KeyCosigner(hsm, desc)):
        p = psbt.clone()
        assert cos.sign(p) == len(p.inputs) == N_INPUTS
        parts.append(p)
    t2 = time.perf_counter()
    tx = finalize(combine(*parts))  # includes script verification of all 100 inputs
    t3 = time.perf_counter()
    chain.broadcast(tx)  # re-verifies by script
    t4 = time.perf_counter()
    print(f"PSBT {len(psbt.inputs)}-input 3-of-5: create {(t1 - t0) * 1e3:.0f} ms, "
          f"sign x3 {(t2 - t1) * 1e3:.0f} ms, combine+finalize+verify {(t3 - t2) * 1e3:.0f} ms, "
          f"total {(t3 - t0) * 1e3:.0f} ms; local-chain accept {(t4 - t3) * 1e3:.0f} ms; "
          f"vsize {tx.get_virtual_size()} vB")


def main() -> None:
    """Run all benchmarks and print figures."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ensure_local_token(Path(tmp))
        hsm = HsmSigner(cfg, "eth-hot")
        hsm.sign_digest(os.urandom(32))  # warm-up: session + login
        soft = SoftwareSigner(os.urandom(32))
        base = bench_signer("software (coincurve) baseline", soft, N_SIGS)
        bench_signer("verify only (pinned-key check)", _VerifyOnly(soft), N_SIGS)
        rate = bench_signer("HSM (SoftHSM2 CKM_ECDSA, verified)", hsm, N_SIGS)
        print(f"HSM / software ratio: {rate / base:.3f}")
        bench_threads(cfg, ("eth-hot", "safe-signer", "btc-cosigner"), N_SIGS // 3)
        bench_failover(Path(tmp))
        bench_psbt(HsmSigner(cfg, "btc-cosigner"))


if __name__ == "__main__":
    main()
