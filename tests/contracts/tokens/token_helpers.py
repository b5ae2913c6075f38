"""Helpers shared by the USDC and USDT tests (plain functions, so both read the same way)."""

from eth_utils import to_checksum_address


def act_as(accounts, chain, address):
    """An impersonated, ETH-funded account for `address` (a role holder, e.g. the owner)."""
    account = accounts[to_checksum_address(address)]
    chain.provider.set_balance(account.address, 10**20)
    return account


def fresh(accounts, chain):
    """A new funded account nobody else uses (no prior token history on any fork)."""
    account = accounts.generate_test_account()
    chain.provider.set_balance(account.address, 10**20)
    return account


def args(log):
    """Event arguments in ABI order (names differ between Solidity and Vyper ABIs)."""
    return list(log.event_arguments.values())


def snapshot(token, *holders):
    """Balances of `holders` plus the total supply, to show a revert changed nothing."""
    return [token.balanceOf(h) for h in holders] + [token.totalSupply()]
