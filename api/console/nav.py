"""The console's navigation: one entry per area, shown to the roles that may open it."""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

from keeper.console import AUDITOR, CLIENT, COMPLIANCE, OPS, SIGNER, TREASURY, User


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation bar."""

    label: str
    path: str
    roles: frozenset[str]
    module: str  # the page module (``api.console.<module>``) that serves it


NAV: tuple[NavItem, ...] = (
    NavItem("Balances", "/console/client/balances", frozenset({CLIENT}), "client"),
    NavItem("Transactions", "/console/client/transactions", frozenset({CLIENT}), "client"),
    NavItem("Statements", "/console/client/statements", frozenset({CLIENT}), "client"),
    NavItem("Deposit instructions", "/console/client/deposit", frozenset({CLIENT}), "client"),
    NavItem("Signer queue", "/console/signer/", frozenset({SIGNER}), "signer"),
    NavItem("Compliance", "/console/compliance/", frozenset({COMPLIANCE, AUDITOR}), "compliance"),
    NavItem("Treasury", "/console/treasury/", frozenset({TREASURY, OPS, AUDITOR}), "treasury"),
)


@functools.cache
def _served(module: str) -> bool:
    return importlib.util.find_spec(f"api.console.{module}") is not None


def items_for(user: User | None) -> list[NavItem]:
    """The navigation ``user`` sees: the areas their roles open that are written."""
    if user is None:
        return []
    return [n for n in NAV if n.roles & user.roles and _served(n.module)]


def home_of(user: User) -> str:
    """Where ``user`` lands after signing in: the first area of their roles."""
    for n in NAV:
        if n.roles & user.roles:
            return n.path
    return "/console/login"
