# pragma version 0.4.3
"""
@title TetherToken (USDT stand-in)
@license Apache-2.0
@notice TEST STAND-IN, NOT FOR PRODUCTION. Reproduces the externally visible
        behaviour of Tether's TetherToken (Solidity 0.4.17, deployed at
        0xdAC17F958D2ee523a2206206994597C13D831ec7) for Strongroom's local
        mainnet, quirks included:
        - transfer / transferFrom / approve return NOTHING (no ABI outputs);
        - approve reverts when changing a non-zero allowance to another
          non-zero value;
        - an optional transfer fee (basis points, capped) paid to the owner;
        - owner-only blacklist, destroyBlackFunds, pause, issue and redeem;
        - `decimals` is a uint256;
        - reverts carry no reason string: `require` failures are a bare
          REVERT, SafeMath `assert` failures are the INVALID opcode (all gas
          consumed), exactly as the 0.4.17 bytecode does.
@dev    Not reproduced: deprecate() and the forwarding to an upgraded contract
        (`deprecated()` is always false, `upgradedAddress()` always zero).
        Event parameter names `from`/`to` of Transfer are spelled
        `sender`/`receiver` (`from` is a reserved word); topics and data are
        identical.
"""

# INTERFACES #

# None: TetherToken predates a conforming ERC-20 (its transfer/approve return
# nothing), so it deliberately does not implement ethereum.ercs.IERC20.


# EVENTS #

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event Pause:
    pass

event Unpause:
    pass

event AddedBlackList:
    _user: address

event RemovedBlackList:
    _user: address

event DestroyedBlackFunds:
    _blackListedUser: address
    _balance: uint256

event Issue:
    amount: uint256

event Redeem:
    amount: uint256

event Params:
    feeBasisPoints: uint256
    maxFee: uint256


# CONSTANTS #

MAX_UINT: public(constant(uint256)) = max_value(uint256)

# Hard-coded fee ceilings of the real contract: basis points < 20 and a
# maximum fee < 50 whole tokens.
MAX_BASIS_POINTS: constant(uint256) = 20
MAX_FEE_WHOLE_TOKENS: constant(uint256) = 50


# STORAGE #

owner: public(address)

_totalSupply: public(uint256)
balances: public(HashMap[address, uint256])
allowed: public(HashMap[address, HashMap[address, uint256]])

basisPointsRate: public(uint256)
maximumFee: public(uint256)

paused: public(bool)
isBlackListed: public(HashMap[address, bool])

name: public(String[64])
symbol: public(String[32])
decimals: public(uint256)

upgradedAddress: public(address)
deprecated: public(bool)


# CONSTRUCTOR #

@deploy
def __init__(initial_supply: uint256, name: String[64], symbol: String[32], decimals: uint256):
    """
    @notice Create the token; the deployer becomes owner and holds the whole
            initial supply (no Transfer event, as in the real contract).
    @param initial_supply Initial supply in base units.
    @param name Token name.
    @param symbol Token symbol.
    @param decimals Number of decimals (6 for USDT).
    """
    self.owner = msg.sender
    self._totalSupply = initial_supply
    self.name = name
    self.symbol = symbol
    self.decimals = decimals
    self.balances[msg.sender] = initial_supply
    self.deprecated = False


# EXTERNAL FUNCTIONS #

## ERC-20 (non-conforming) ##

@view
@external
def totalSupply() -> uint256:
    """
    @notice Total amount of tokens in existence.
    @return The total supply in base units.
    """
    return self._totalSupply


@view
@external
def balanceOf(who: address) -> uint256:
    """
    @notice Balance of an account.
    @param who The account to query.
    @return The balance in base units.
    """
    return self.balances[who]


@view
@external
def allowance(_owner: address, _spender: address) -> uint256:
    """
    @notice Remaining amount `_spender` may transfer on behalf of `_owner`.
    @param _owner The token holder.
    @param _spender The spender.
    @return The remaining allowance.
    """
    return self.allowed[_owner][_spender]


@external
def transfer(_to: address, _value: uint256):
    """
    @notice Transfer tokens from the caller; the fee (if any) goes to the owner.
    @dev Returns nothing. Reverts when paused or when the caller is blacklisted
         (the recipient is not checked).
    @param _to Payee.
    @param _value Amount debited from the caller; `_to` receives it minus the fee.
    """
    assert not self.paused
    assert not self.isBlackListed[msg.sender]
    self._move(msg.sender, _to, _value, self._fee(_value))


@external
def transferFrom(_from: address, _to: address, _value: uint256):
    """
    @notice Transfer tokens from `_from` using the caller's allowance.
    @dev Returns nothing. Reverts when paused or when `_from` is blacklisted.
         An allowance of MAX_UINT is never decreased.
    @param _from Payer.
    @param _to Payee.
    @param _value Amount debited from `_from`; `_to` receives it minus the fee.
    """
    assert not self.paused
    assert not self.isBlackListed[_from]
    current_allowance: uint256 = self.allowed[_from][msg.sender]
    fee: uint256 = self._fee(_value)
    if current_allowance < MAX_UINT:
        self.allowed[_from][msg.sender] = self._sub(current_allowance, _value)
    self._move(_from, _to, _value, fee)


@external
def approve(_spender: address, _value: uint256):
    """
    @notice Set the caller's allowance for `_spender`.
    @dev Returns nothing. A non-zero allowance can only be set to zero first;
         not subject to pause or blacklist.
    @param _spender Spender.
    @param _value New allowance.
    """
    assert not (_value != 0 and self.allowed[msg.sender][_spender] != 0)
    self.allowed[msg.sender][_spender] = _value
    log Approval(owner=msg.sender, spender=_spender, value=_value)


## Owner ##

@external
def transferOwnership(newOwner: address):
    """
    @notice Hand the owner role to `newOwner` (silently ignored for address 0).
    @param newOwner The new owner.
    """
    self._only_owner()
    if newOwner != empty(address):
        self.owner = newOwner


@view
@external
def getOwner() -> address:
    """
    @notice The owner (BlackList getter).
    @return The owner address.
    """
    return self.owner


@external
def issue(amount: uint256):
    """
    @notice Create `amount` new tokens on the owner's balance (no Transfer event).
    @param amount Amount in base units; must be > 0.
    """
    self._only_owner()
    assert unsafe_add(self._totalSupply, amount) > self._totalSupply
    assert unsafe_add(self.balances[self.owner], amount) > self.balances[self.owner]
    self.balances[self.owner] += amount
    self._totalSupply += amount
    log Issue(amount=amount)


@external
def redeem(amount: uint256):
    """
    @notice Destroy `amount` tokens from the owner's balance (no Transfer event).
    @param amount Amount in base units.
    """
    self._only_owner()
    assert self._totalSupply >= amount
    assert self.balances[self.owner] >= amount
    self._totalSupply -= amount
    self.balances[self.owner] -= amount
    log Redeem(amount=amount)


@external
def setParams(newBasisPoints: uint256, newMaxFee: uint256):
    """
    @notice Set the transfer fee.
    @dev fee = min(value * basisPointsRate / 10000, maximumFee), where
         maximumFee = newMaxFee * 10**decimals.
    @param newBasisPoints Fee rate in basis points, < 20.
    @param newMaxFee Fee cap in WHOLE tokens, < 50.
    """
    self._only_owner()
    assert newBasisPoints < MAX_BASIS_POINTS
    assert newMaxFee < MAX_FEE_WHOLE_TOKENS
    self.basisPointsRate = newBasisPoints
    self.maximumFee = self._mul(newMaxFee, pow_mod256(10, self.decimals))
    log Params(feeBasisPoints=newBasisPoints, maxFee=self.maximumFee)


## Pause ##

@external
def pause():
    """
    @notice Pause transfer and transferFrom (only when not paused).
    """
    self._only_owner()
    assert not self.paused
    self.paused = True
    log Pause()


@external
def unpause():
    """
    @notice Lift the pause (only when paused).
    """
    self._only_owner()
    assert self.paused
    self.paused = False
    log Unpause()


## Blacklist ##

@view
@external
def getBlackListStatus(_maker: address) -> bool:
    """
    @notice Whether an account is blacklisted.
    @param _maker The account to check.
    @return True if blacklisted.
    """
    return self.isBlackListed[_maker]


@external
def addBlackList(_evilUser: address):
    """
    @notice Blacklist an account: it can no longer send (it can still receive).
    @param _evilUser The account to blacklist.
    """
    self._only_owner()
    self.isBlackListed[_evilUser] = True
    log AddedBlackList(_user=_evilUser)


@external
def removeBlackList(_clearedUser: address):
    """
    @notice Remove an account from the blacklist.
    @param _clearedUser The account to clear.
    """
    self._only_owner()
    self.isBlackListed[_clearedUser] = False
    log RemovedBlackList(_user=_clearedUser)


@external
def destroyBlackFunds(_blackListedUser: address):
    """
    @notice Burn the whole balance of a blacklisted account (no Transfer event).
    @param _blackListedUser A blacklisted account.
    """
    self._only_owner()
    assert self.isBlackListed[_blackListedUser]
    dirty_funds: uint256 = self.balances[_blackListedUser]
    self.balances[_blackListedUser] = 0
    self._totalSupply = unsafe_sub(self._totalSupply, dirty_funds)
    log DestroyedBlackFunds(_blackListedUser=_blackListedUser, _balance=dirty_funds)


# INTERNAL FUNCTIONS #

@view
@internal
def _only_owner():
    assert msg.sender == self.owner


@view
@internal
def _fee(_value: uint256) -> uint256:
    fee: uint256 = self._mul(_value, self.basisPointsRate) // 10000
    if fee > self.maximumFee:
        fee = self.maximumFee
    return fee


@internal
def _move(_from: address, _to: address, _value: uint256, fee: uint256):
    # BasicToken.transfer / StandardToken.transferFrom bookkeeping.
    send_amount: uint256 = self._sub(_value, fee)
    self.balances[_from] = self._sub(self.balances[_from], _value)
    self.balances[_to] = self._add(self.balances[_to], send_amount)
    if fee > 0:
        self.balances[self.owner] = self._add(self.balances[self.owner], fee)
        log Transfer(sender=_from, receiver=self.owner, value=fee)
    log Transfer(sender=_from, receiver=_to, value=send_amount)


# SafeMath of Solidity 0.4.x: failures hit `assert`, i.e. the INVALID opcode.

@pure
@internal
def _mul(a: uint256, b: uint256) -> uint256:
    if a == 0:
        return 0
    c: uint256 = unsafe_mul(a, b)
    assert unsafe_div(c, a) == b, UNREACHABLE
    return c


@pure
@internal
def _sub(a: uint256, b: uint256) -> uint256:
    assert b <= a, UNREACHABLE
    return unsafe_sub(a, b)


@pure
@internal
def _add(a: uint256, b: uint256) -> uint256:
    c: uint256 = unsafe_add(a, b)
    assert c >= a, UNREACHABLE
    return c
