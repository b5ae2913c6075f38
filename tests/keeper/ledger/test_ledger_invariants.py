"""``verify_invariants`` while other processes write: it must read the accounts and the journal
in one snapshot (REPEATABLE READ on PostgreSQL, one read transaction on SQLite), or postings
committed between its reads show up as false violations."""

from __future__ import annotations

import threading

from keeper.ledger import Kind, Ledger, TransferSpec


def test_verify_invariants_reads_one_snapshot_while_others_write(ledger: Ledger,
                                                                  ledger_url: str) -> None:
    om = ledger.omnibus_account("USDC", "vault")
    clients = [ledger.client_account(f"c{i}", "USDC") for i in range(4)]
    for c in clients:
        ledger.post(TransferSpec(f"fund-{c}", om, c, 10**9))
    other = Ledger(ledger_url)  # another writer with its own engine and connections
    stop = threading.Event()
    rounds: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                r = len(rounds)
                specs = [TransferSpec(f"d{r}-{k}", om, clients[k % 4], 1) for k in range(20)]
                specs += [TransferSpec(f"m{r}-{k}", clients[k % 4], clients[(k + 1) % 4], 1)
                          for k in range(20)]
                specs.append(TransferSpec(f"h{r}", clients[0], om, 1, Kind.PENDING))
                specs.append(TransferSpec(f"p{r}", 0, 0, 0, Kind.POST, pending_id=f"h{r}"))
                for t in [other.submit(s) for s in specs]:
                    t.result()
                rounds.append(r)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(rounds) < 3 and writer.is_alive():  # the writer is up and committing
            stop.wait(0.01)
        reports = []
        for _ in range(60):
            reports.append(ledger.verify_invariants())
        seen_rounds = len(rounds)
    finally:
        stop.set()
        writer.join(60)
        other.close()
    assert failures == []
    assert seen_rounds > 3  # the checks did run while postings were being committed
    assert [p for p in reports if p] == []
    assert ledger.verify_invariants() == []
