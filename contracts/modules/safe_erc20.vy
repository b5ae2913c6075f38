# pragma version 0.4.3
"""
@title ERC-20 calls that tolerate USDT-style tokens
@license Apache-2.0
@notice One home for token calls made by Vault and Escrow (stateless: `import` and call).
        Tolerates tokens that return nothing (USDT); a token that returns false fails; a
        token that reverts (blacklist, pause) reverts the caller with the token's own
        reason, so nothing moves. Amounts are measured as balance deltas, so fee-on-transfer
        tokens are reported truthfully.
"""

from ethereum.ercs import IERC20

# ---------------------------------------------------------------- internal

@view
@internal
def _balance(token: address, account: address) -> uint256:
    self._check_code(token)
    return staticcall IERC20(token).balanceOf(account)


@internal
def _pull(token: address, sender: address, amount: uint256) -> uint256:
    # transferFrom `sender` to this contract; returns what this contract received (> 0).
    before: uint256 = self._balance(token, self)
    self._call(token, abi_encode(sender, self, amount, method_id=method_id("transferFrom(address,address,uint256)")))
    received: uint256 = self._balance(token, self) - before
    assert received != 0, "SafeERC20: nothing received"
    return received


@internal
def _transfer(token: address, to: address, amount: uint256):
    self._call(token, abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")))


@internal
def _transfer_measured(token: address, to: address, amount: uint256) -> uint256:
    # Send exactly `amount` out of this contract; returns the recipient's measured increase
    # (less than `amount` for a fee-on-transfer token).
    before: uint256 = self._balance(token, self)
    assert before >= amount, "SafeERC20: insufficient balance"
    to_before: uint256 = self._balance(token, to)
    self._transfer(token, to, amount)
    assert before - self._balance(token, self) == amount, "SafeERC20: balance delta mismatch"
    to_after: uint256 = self._balance(token, to)
    if to_after <= to_before:
        return 0
    return to_after - to_before


@internal
def _call(token: address, data: Bytes[100]):
    self._check_code(token)
    ok: bool = False
    response: Bytes[256] = b""
    ok, response = raw_call(token, data, max_outsize=256, revert_on_failure=False)
    if not ok:
        if len(response) != 0 and len(response) < 256:
            raw_revert(response)
        raise "SafeERC20: token call failed"
    if len(response) != 0:
        assert len(response) >= 32, "SafeERC20: bad token return"
        assert convert(slice(response, 0, 32), uint256) == 1, "SafeERC20: token returned false"


@view
@internal
def _check_code(token: address):
    assert token.is_contract, "SafeERC20: token has no code"
