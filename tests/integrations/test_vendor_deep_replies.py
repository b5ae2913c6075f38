"""A vendor (issuer, core banking, trading venue) answering a JSON document nested 300,000 deep.

The keeper imports safe-eth-py, whose py-evm and py_ecc raise the interpreter's recursion limit to
100,000, so the C JSON decoder overflowed its stack on such a reply and the whole keeper
died (SIGSEGV) instead of counting one bad answer. The clients run in a child process here so a
crash is a failed assertion, not a dead test runner.
"""

from __future__ import annotations

import os
import subprocess
import sys

from keeper.config import ROOT

_CHILD = """
import sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import keeper.safetx  # noqa: F401  (the keeper imports safe-eth-py, hence py-evm and py_ecc)
assert sys.getrecursionlimit() >= 100_000, sys.getrecursionlimit()

DEEP = b"[" * 300_000 + b"]" * 300_000


class Deep(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(DEEP)))
        self.end_headers()
        self.wfile.write(DEEP)

    do_POST = do_GET

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Deep)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}"

from keeper.integrations.corebanking.client import AtlasClient
from keeper.integrations.issuer.client import IssuerClient
from keeper.keys.secrets import Secret
from keeper.trading.venues import HttpVenue

calls = {
    "issuer": lambda: IssuerClient(url, Secret("k"), retries=0).get_mint("m1"),
    "corebanking": lambda: AtlasClient(url, Secret("k"), retries=0).customer("c1"),
    "venue": lambda: HttpVenue("v", url, Secret("k")).fetch_ticker("BTC/USD"),
}
for name, call in calls.items():
    try:
        call()
        print(name, "accepted", flush=True)
    except Exception as exc:
        print(name, type(exc).__name__, flush=True)
"""


def test_a_deeply_nested_vendor_reply_is_a_bad_answer_not_a_dead_keeper() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    run = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                         timeout=120, env=env, cwd=ROOT)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert dict(line.split() for line in run.stdout.splitlines()) == {
        "issuer": "IssuerProtocolError", "corebanking": "CoreBankingError",
        "venue": "BadResponse"}
