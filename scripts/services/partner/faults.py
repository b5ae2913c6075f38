"""What the local partner does wrong, per run (CLI flags) or live (``PUT /admin/faults``):
maintenance, rate limits, lost replies, wrong reports and hostile replies. Deterministic under
a seed (each kind of decision has its own seeded stream)."""

from __future__ import annotations

import math
import random
import threading
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WrongKind = Literal["amount", "address", "missing", "invented"]
Hostile = Literal["not_json", "negative_amount", "huge_amount", "bad_hash", "bad_address",
                  "wrong_type", "extra_field", "huge_list", "stuck_pages",
                  "foreign_address", "huge_body", "deep_json", "trickle"]


class WrongReport(BaseModel):
    """Report one client's transactions wrongly: ``amount`` off (deposits + ``delta``),
    ``address`` (deposits from / withdrawals to an invented address), ``missing`` (its deposits
    left out), ``invented`` (a deposit that never happened)."""

    model_config = ConfigDict(extra="forbid")
    kind: WrongKind
    client_ref: str
    delta: int = Field(1000, ge=1)


class FaultConfig(BaseModel):
    """The live fault configuration."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    maintenance: bool = Field(False, description="answer 503 with Retry-After to every API call")
    rate_limit: int | None = Field(None, ge=1, description="API requests allowed per window")
    rate_window_s: int = Field(1, ge=1, le=3600)
    lost_reply_rate: float = Field(0.0, ge=0, le=1, description="share of POSTs processed and "
                                                                "then answered 500")
    wrong: list[WrongReport] = Field(default_factory=list)
    hostile: Hostile | None = Field(None, description="answer report calls with this garbage")


class Faults:
    """The live configuration, its seeded decisions and the rate limiter (thread-safe)."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.rate_limited = 0
        self.set(config)

    def set(self, config: FaultConfig) -> None:
        """Replace the configuration; restart the decision streams and the rate window."""
        with self._lock:
            self.config = config
            self._rng = random.Random(f"{config.seed}:lost")
            self._window, self._count = -1, 0

    def lose_reply(self) -> bool:
        """Should this processed POST be answered 500?"""
        with self._lock:
            return self._rng.random() < self.config.lost_reply_rate

    def admit(self, now: float | None = None) -> int | None:
        """Count one API request; None when admitted, else the Retry-After seconds."""
        now = time.time() if now is None else now
        with self._lock:
            self.requests += 1
            limit, window = self.config.rate_limit, self.config.rate_window_s
            if limit is None:
                return None
            current = int(now // window)
            if current != self._window:
                self._window, self._count = current, 0
            if self._count < limit:
                self._count += 1
                return None
            self.rate_limited += 1
            return max(1, math.ceil((current + 1) * window - now))
