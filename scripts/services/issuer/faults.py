"""Failure injection of the issuer stand-in: deterministic under a seed, changeable at run time.

Each kind of fault draws from its own ``random.Random`` seeded from the run's seed, so the
sequence of decisions for mints does not shift when, say, the 5xx rate changes.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Delay = Annotated[float, Field(ge=0, le=10**7, allow_inf_nan=False)] | Literal["hold"]


class FaultConfig(BaseModel):
    """What goes wrong, per run (CLI flags) or live (``PUT /admin/faults``)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    mint_delay_s: Delay = Field(0.0, description='seconds before a mint starts, or "hold" until released')
    mint_fail_rate: float = Field(0.0, ge=0, le=1, description="share of mints the issuer declines")
    burn_settle_delay_s: Delay = Field(0.0, description='seconds a burn\'s fiat payout is late, or "hold"')
    burn_fail_rate: float = Field(0.0, ge=0, le=1, description="share of burns whose payout fails")
    error_rate: float = Field(0.0, ge=0, le=1, description="share of API requests answered 500 "
                                                           "before doing anything")
    lost_reply_rate: float = Field(0.0, ge=0, le=1, description="share of POSTs processed and then "
                                                                "answered 500 (the reply is lost)")
    maintenance: bool = Field(False, description="answer 503 with Retry-After to every API call")


class Faults:
    """The live fault configuration and its seeded decisions (thread-safe)."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.set(config)

    def set(self, config: FaultConfig) -> None:
        """Replace the configuration and restart every decision stream from its seed."""
        with self._lock:
            self.config = config
            self._rng = {k: random.Random(f"{config.seed}:{k}")
                         for k in ("mint", "burn", "error", "lost")}

    def _draw(self, kind: str, rate: float) -> bool:
        with self._lock:
            return self._rng[kind].random() < rate

    def api_error(self) -> bool:
        """Should this request fail with 500 before it is processed?"""
        return self._draw("error", self.config.error_rate)

    def lose_reply(self) -> bool:
        """Should this processed POST be answered 500?"""
        return self._draw("lost", self.config.lost_reply_rate)

    def mint_plan(self) -> tuple[str, float | None]:
        """(fault, not_before) for a new mint: ``fail``, ``hold`` or ``none`` after a delay."""
        if self._draw("mint", self.config.mint_fail_rate):
            return "fail", time.time()
        return _plan(self.config.mint_delay_s)

    def burn_plan(self) -> tuple[str, float | None]:
        """(fault, settle_not_before) for a new burn's fiat payout."""
        if self._draw("burn", self.config.burn_fail_rate):
            return "fail", time.time()
        return _plan(self.config.burn_settle_delay_s)


def _plan(delay: Delay) -> tuple[str, float | None]:
    if delay == "hold":
        return "hold", None
    return "none", time.time() + float(delay)


def parse_delay(text: str) -> Delay:
    """A CLI delay: a number of seconds (>= 0) or ``hold``."""
    if text == "hold":
        return "hold"
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("delay must be a finite number of seconds >= 0 or 'hold'")
    return value
