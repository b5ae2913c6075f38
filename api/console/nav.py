"""The console's navigation: one entry per area, shown to the roles that may open it."""

from __future__ import annotations

from dataclasses import dataclass

from keeper.console import AUDITOR, CLIENT, COMPLIANCE, OPS, SIGNER, TREASURY, User


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation bar."""

    label: str
    path: str
    roles: frozenset[str]


NAV: tuple[NavItem, ...] = (
    NavItem("Balances", "/console/client/balances", frozenset({CLIENT})),
    NavItem("Transactions", "/console/client/transactions", frozenset({CLIENT})),
    NavItem("Statements", "/console/client/statements", frozenset({CLIENT})),
    NavItem("Deposit instructions", "/console/client/deposit", frozenset({CLIENT})),
    NavItem("Signer queue", "/console/signer/", frozenset({SIGNER})),
    NavItem("Compliance", "/console/compliance/", frozenset({COMPLIANCE, AUDITOR})),
    NavItem("Treasury", "/console/treasury/", frozenset({TREASURY, OPS, AUDITOR})),
)


def items_for(user: User | None) -> list[NavItem]:
    """The navigation ``user`` sees: the areas their roles open."""
    if user is None:
        return []
    return [n for n in NAV if n.roles & user.roles]


def home_of(user: User) -> str:
    """Where ``user`` lands after signing in: the first area of their roles."""
    for n in NAV:
        if n.roles & user.roles:
            return n.path
    return "/console/login"
