# pragma version 0.4.3
"""
@title FiatTokenV2 (USDC stand-in)
@license Apache-2.0
@notice TEST STAND-IN, NOT FOR PRODUCTION. Reproduces the externally visible
        behaviour of Circle's FiatTokenV2_2 (the USDC implementation behind
        0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48) for Strongroom's local
        mainnet: same function names and signatures, events, role model,
        revert reason strings and check order as the real token.
@dev    Differences from the real token, on purpose or by Vyper's limits:
        - No proxy (admin/implementation/upgradeTo/changeAdmin) and no
          initialize*(): the constructor performs the V1 initialize checks and
          the V2.2 migration (the token blacklists its own address).
        - No bytes-signature overloads of permit / transferWithAuthorization /
          receiveWithAuthorization / cancelAuthorization (Vyper has no
          overloading). The v,r,s variants pack the signature as r||s||v and
          check it like the real token, including ERC-1271 for contract signers.
        - Event parameter names `from`/`to` of Transfer are spelled
          `sender`/`receiver` (`from` is a reserved word); topics and data are
          identical.
        - Arithmetic overflows that the real token reports as "SafeMath: ..."
          carry the same strings here.
"""

# INTERFACES #

from ethereum.ercs import IERC20

implements: IERC20


# EVENTS #

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event Mint:
    minter: indexed(address)
    to: indexed(address)
    amount: uint256

event Burn:
    burner: indexed(address)
    amount: uint256

event MinterConfigured:
    minter: indexed(address)
    minterAllowedAmount: uint256

event MinterRemoved:
    oldMinter: indexed(address)

event MasterMinterChanged:
    newMasterMinter: indexed(address)

event Pause:
    pass

event Unpause:
    pass

event PauserChanged:
    newAddress: indexed(address)

event Blacklisted:
    _account: indexed(address)

event UnBlacklisted:
    _account: indexed(address)

event BlacklisterChanged:
    newBlacklister: indexed(address)

event OwnershipTransferred:
    previousOwner: address
    newOwner: address

event RescuerChanged:
    newRescuer: indexed(address)

event AuthorizationUsed:
    authorizer: indexed(address)
    nonce: indexed(bytes32)

event AuthorizationCanceled:
    authorizer: indexed(address)
    nonce: indexed(bytes32)


# CONSTANTS #

VERSION: constant(String[1]) = "2"

# keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)

# 0x6e71edae12b1b97f4d1f60370fef10105fa2faae0126114a169c64845d6126c9
PERMIT_TYPEHASH: public(constant(bytes32)) = keccak256(
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)

# 0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267
TRANSFER_WITH_AUTHORIZATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
)

# 0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8
RECEIVE_WITH_AUTHORIZATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
)

# 0x158b0a9edf7a828aad02f63cd515c68ef2f50ba807396f6d12842833a1597429
CANCEL_AUTHORIZATION_TYPEHASH: public(constant(bytes32)) = keccak256(
    "CancelAuthorization(address authorizer,bytes32 nonce)"
)

# Balances live in the low 255 bits, the blacklist flag in the top bit (as in V2_2).
BALANCE_MASK: constant(uint256) = (1 << 255) - 1
BLACKLIST_FLAG: constant(uint256) = 1 << 255

# Upper bound of a low-s secp256k1 signature (EIP-2).
MAX_S: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168  # 0x7FFF...20A0

ERC1271_MAGIC_VALUE: constant(bytes4) = 0x1626ba7e


# STORAGE #

name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)
currency: public(String[16])

owner: public(address)
masterMinter: public(address)
pauser: public(address)
blacklister: public(address)
rescuer: public(address)

paused: public(bool)

# account => blacklist flag (bit 255) | balance (bits 0..254)
balanceAndBlacklistStates: HashMap[address, uint256]
allowed: HashMap[address, HashMap[address, uint256]]
totalSupply_: uint256
minters: HashMap[address, bool]
minterAllowed: HashMap[address, uint256]

_permitNonces: HashMap[address, uint256]
_authorizationStates: HashMap[address, HashMap[bytes32, bool]]


# CONSTRUCTOR #

@deploy
def __init__(
    name: String[64],
    symbol: String[32],
    currency: String[16],
    decimals: uint8,
    master_minter: address,
    pauser: address,
    blacklister: address,
    owner: address,
):
    """
    @notice Initialise the token like FiatTokenV1.initialize followed by the
            V2, V2.1 and V2.2 upgrades (the token blacklists its own address).
    @param name Token name, also the EIP-712 domain name.
    @param symbol Token symbol.
    @param currency Fiat currency code, e.g. "USD".
    @param decimals Number of decimals (6 for USDC).
    @param master_minter Address allowed to configure minters.
    @param pauser Address allowed to pause.
    @param blacklister Address allowed to blacklist.
    @param owner Owner, allowed to change the roles.
    """
    assert master_minter != empty(address), "FiatToken: new masterMinter is the zero address"
    assert pauser != empty(address), "FiatToken: new pauser is the zero address"
    assert blacklister != empty(address), "FiatToken: new blacklister is the zero address"
    assert owner != empty(address), "FiatToken: new owner is the zero address"

    self.name = name
    self.symbol = symbol
    self.currency = currency
    self.decimals = decimals
    self.masterMinter = master_minter
    self.pauser = pauser
    self.blacklister = blacklister
    self.owner = owner

    # FiatTokenV2_1 / V2_2: the contract's own address is blacklisted.
    self.balanceAndBlacklistStates[self] = BLACKLIST_FLAG


# EXTERNAL FUNCTIONS #

## ERC-20 ##

@view
@external
def totalSupply() -> uint256:
    """
    @notice Total amount of tokens in existence.
    @return The total supply in base units.
    """
    return self.totalSupply_


@view
@external
def balanceOf(account: address) -> uint256:
    """
    @notice Balance of an account (blacklisted accounts keep their balance).
    @param account The account to query.
    @return The balance in base units.
    """
    return self._balance_of(account)


@view
@external
def allowance(owner: address, spender: address) -> uint256:
    """
    @notice Remaining amount `spender` may transfer on behalf of `owner`.
    @param owner The token holder.
    @param spender The spender.
    @return The remaining allowance.
    """
    return self.allowed[owner][spender]


@external
def transfer(to: address, _value: uint256) -> bool:
    """
    @notice Transfer tokens from the caller.
    @dev Reverts when paused or when the caller or `to` is blacklisted.
    @param to Payee.
    @param _value Amount in base units.
    @return True on success.
    """
    self._when_not_paused()
    self._not_blacklisted(msg.sender)
    self._not_blacklisted(to)
    self._transfer(msg.sender, to, _value)
    return True


@external
def transferFrom(sender: address, to: address, _value: uint256) -> bool:
    """
    @notice Transfer tokens from `sender` using the caller's allowance.
    @dev Reverts when paused or when the caller, `sender` or `to` is blacklisted.
    @param sender Payer.
    @param to Payee.
    @param _value Amount in base units.
    @return True on success.
    """
    self._when_not_paused()
    self._not_blacklisted(msg.sender)
    self._not_blacklisted(sender)
    self._not_blacklisted(to)
    assert _value <= self.allowed[sender][msg.sender], "ERC20: transfer amount exceeds allowance"
    self._transfer(sender, to, _value)
    self.allowed[sender][msg.sender] -= _value
    return True


@external
def approve(spender: address, _value: uint256) -> bool:
    """
    @notice Set the caller's allowance for `spender`.
    @dev As in FiatTokenV2_2 only the pause check applies (no blacklist check).
    @param spender Spender.
    @param _value New allowance.
    @return True on success.
    """
    self._when_not_paused()
    self._approve(msg.sender, spender, _value)
    return True


@external
def increaseAllowance(spender: address, increment: uint256) -> bool:
    """
    @notice Increase the caller's allowance for `spender`.
    @param spender Spender.
    @param increment Amount added to the allowance.
    @return True on success.
    """
    self._when_not_paused()
    self._approve(msg.sender, spender, self._safe_add(self.allowed[msg.sender][spender], increment))
    return True


@external
def decreaseAllowance(spender: address, decrement: uint256) -> bool:
    """
    @notice Decrease the caller's allowance for `spender`.
    @param spender Spender.
    @param decrement Amount removed from the allowance.
    @return True on success.
    """
    self._when_not_paused()
    current: uint256 = self.allowed[msg.sender][spender]
    assert decrement <= current, "ERC20: decreased allowance below zero"
    self._approve(msg.sender, spender, current - decrement)
    return True


@pure
@external
def version() -> String[1]:
    """
    @notice Version string of the token, also the EIP-712 domain version.
    @return "2".
    """
    return VERSION


## Minting ##

@external
def configureMinter(minter: address, minterAllowedAmount: uint256) -> bool:
    """
    @notice Add or update a minter and set its mint allowance.
    @param minter The minter.
    @param minterAllowedAmount Amount the minter may mint.
    @return True on success.
    """
    self._when_not_paused()
    assert msg.sender == self.masterMinter, "FiatToken: caller is not the masterMinter"
    self.minters[minter] = True
    self.minterAllowed[minter] = minterAllowedAmount
    log MinterConfigured(minter=minter, minterAllowedAmount=minterAllowedAmount)
    return True


@external
def removeMinter(minter: address) -> bool:
    """
    @notice Remove a minter and zero its allowance (allowed while paused).
    @param minter The minter to remove.
    @return True on success.
    """
    assert msg.sender == self.masterMinter, "FiatToken: caller is not the masterMinter"
    self.minters[minter] = False
    self.minterAllowed[minter] = 0
    log MinterRemoved(oldMinter=minter)
    return True


@view
@external
def isMinter(account: address) -> bool:
    """
    @notice Whether an account is a minter.
    @param account The account to check.
    @return True if `account` is a minter.
    """
    return self.minters[account]


@view
@external
def minterAllowance(minter: address) -> uint256:
    """
    @notice Remaining mint allowance of a minter.
    @param minter The minter.
    @return The remaining allowance.
    """
    return self.minterAllowed[minter]


@external
def mint(_to: address, _amount: uint256) -> bool:
    """
    @notice Mint tokens to `_to`, consuming the caller's mint allowance.
    @param _to Recipient.
    @param _amount Amount to mint (> 0, <= minterAllowance).
    @return True on success.
    """
    self._when_not_paused()
    assert self.minters[msg.sender], "FiatToken: caller is not a minter"
    self._not_blacklisted(msg.sender)
    self._not_blacklisted(_to)
    assert _to != empty(address), "FiatToken: mint to the zero address"
    assert _amount > 0, "FiatToken: mint amount not greater than 0"
    minting_allowed: uint256 = self.minterAllowed[msg.sender]
    assert _amount <= minting_allowed, "FiatToken: mint amount exceeds minterAllowance"

    self.totalSupply_ = self._safe_add(self.totalSupply_, _amount)
    self._set_balance(_to, self._safe_add(self._balance_of(_to), _amount))
    self.minterAllowed[msg.sender] = minting_allowed - _amount
    log Mint(minter=msg.sender, to=_to, amount=_amount)
    log Transfer(sender=empty(address), receiver=_to, value=_amount)
    return True


@external
def burn(_amount: uint256):
    """
    @notice Burn tokens from the caller's (a minter's) own balance.
    @param _amount Amount to burn (> 0, <= balance).
    """
    self._when_not_paused()
    assert self.minters[msg.sender], "FiatToken: caller is not a minter"
    self._not_blacklisted(msg.sender)
    balance: uint256 = self._balance_of(msg.sender)
    assert _amount > 0, "FiatToken: burn amount not greater than 0"
    assert balance >= _amount, "FiatToken: burn amount exceeds balance"

    self.totalSupply_ -= _amount
    self._set_balance(msg.sender, balance - _amount)
    log Burn(burner=msg.sender, amount=_amount)
    log Transfer(sender=msg.sender, receiver=empty(address), value=_amount)


@external
def updateMasterMinter(_newMasterMinter: address):
    """
    @notice Replace the master minter.
    @param _newMasterMinter The new master minter.
    """
    self._only_owner()
    assert _newMasterMinter != empty(address), "FiatToken: new masterMinter is the zero address"
    self.masterMinter = _newMasterMinter
    log MasterMinterChanged(newMasterMinter=_newMasterMinter)


## Blacklist ##

@view
@external
def isBlacklisted(_account: address) -> bool:
    """
    @notice Whether an account is blacklisted.
    @param _account The account to check.
    @return True if blacklisted.
    """
    return self._is_blacklisted(_account)


@external
def blacklist(_account: address):
    """
    @notice Blacklist an account: it can no longer send, receive or spend.
    @param _account The account to blacklist.
    """
    assert msg.sender == self.blacklister, "Blacklistable: caller is not the blacklister"
    self.balanceAndBlacklistStates[_account] = self.balanceAndBlacklistStates[_account] | BLACKLIST_FLAG
    log Blacklisted(_account=_account)


@external
def unBlacklist(_account: address):
    """
    @notice Remove an account from the blacklist.
    @param _account The account to clear.
    """
    assert msg.sender == self.blacklister, "Blacklistable: caller is not the blacklister"
    self.balanceAndBlacklistStates[_account] = self._balance_of(_account)
    log UnBlacklisted(_account=_account)


@external
def updateBlacklister(_newBlacklister: address):
    """
    @notice Replace the blacklister.
    @param _newBlacklister The new blacklister.
    """
    self._only_owner()
    assert _newBlacklister != empty(address), "Blacklistable: new blacklister is the zero address"
    self.blacklister = _newBlacklister
    log BlacklisterChanged(newBlacklister=_newBlacklister)


## Pause ##

@external
def pause():
    """
    @notice Pause transfers, approvals, minting and burning.
    """
    assert msg.sender == self.pauser, "Pausable: caller is not the pauser"
    self.paused = True
    log Pause()


@external
def unpause():
    """
    @notice Lift the pause.
    """
    assert msg.sender == self.pauser, "Pausable: caller is not the pauser"
    self.paused = False
    log Unpause()


@external
def updatePauser(_newPauser: address):
    """
    @notice Replace the pauser.
    @param _newPauser The new pauser.
    """
    self._only_owner()
    assert _newPauser != empty(address), "Pausable: new pauser is the zero address"
    self.pauser = _newPauser
    log PauserChanged(newAddress=_newPauser)


## Ownership and rescue ##

@external
def transferOwnership(newOwner: address):
    """
    @notice Hand the owner role to `newOwner`.
    @param newOwner The new owner.
    """
    self._only_owner()
    assert newOwner != empty(address), "Ownable: new owner is the zero address"
    log OwnershipTransferred(previousOwner=self.owner, newOwner=newOwner)
    self.owner = newOwner


@external
def updateRescuer(newRescuer: address):
    """
    @notice Replace the rescuer.
    @param newRescuer The new rescuer.
    """
    self._only_owner()
    assert newRescuer != empty(address), "Rescuable: new rescuer is the zero address"
    self.rescuer = newRescuer
    log RescuerChanged(newRescuer=newRescuer)


@external
def rescueERC20(tokenContract: address, to: address, amount: uint256):
    """
    @notice Move ERC-20 tokens stuck in this contract.
    @param tokenContract The ERC-20 token to rescue.
    @param to Recipient.
    @param amount Amount to move.
    """
    assert msg.sender == self.rescuer, "Rescuable: caller is not the rescuer"
    assert tokenContract.is_contract, "Address: call to non-contract"
    success: bool = False
    response: Bytes[32] = b""
    success, response = raw_call(
        tokenContract,
        abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")),
        max_outsize=32,
        revert_on_failure=False,
    )
    assert success, "SafeERC20: low-level call failed"
    if len(response) > 0:
        assert convert(response, bool), "SafeERC20: ERC20 operation did not succeed"


## EIP-2612 ##

@view
@external
def nonces(owner: address) -> uint256:
    """
    @notice Next EIP-2612 permit nonce of `owner`.
    @param owner The token holder.
    @return The next nonce.
    """
    return self._permitNonces[owner]


@view
@external
def DOMAIN_SEPARATOR() -> bytes32:
    """
    @notice EIP-712 domain separator (name, version "2", chainid, this address).
    @return The domain separator for the current chain id.
    """
    return self._domain_separator()


@external
def permit(
    owner: address,
    spender: address,
    _value: uint256,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @notice Set an allowance with an EIP-712 signature of `owner`.
    @dev Contract owners are checked through ERC-1271 with r||s||v.
    @param owner Token holder (signer).
    @param spender Spender.
    @param _value Allowance.
    @param deadline Expiry (unix time) or max uint256 for none.
    @param v Signature v.
    @param r Signature r.
    @param s Signature s.
    """
    self._when_not_paused()
    assert deadline == max_value(uint256) or deadline >= block.timestamp, "FiatTokenV2: permit is expired"
    nonce: uint256 = self._permitNonces[owner]
    self._permitNonces[owner] = nonce + 1
    digest: bytes32 = self._typed_data_hash(
        keccak256(abi_encode(PERMIT_TYPEHASH, owner, spender, _value, nonce, deadline))
    )
    assert self._is_valid_signature_now(owner, digest, v, r, s), "EIP2612: invalid signature"
    self._approve(owner, spender, _value)


## EIP-3009 ##

@view
@external
def authorizationState(authorizer: address, nonce: bytes32) -> bool:
    """
    @notice Whether an EIP-3009 authorization nonce is used or canceled.
    @param authorizer The authorizer.
    @param nonce The authorization nonce.
    @return True if used or canceled.
    """
    return self._authorizationStates[authorizer][nonce]


@external
def transferWithAuthorization(
    sender: address,
    to: address,
    _value: uint256,
    validAfter: uint256,
    validBefore: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @notice Execute a transfer signed by `sender` (EIP-3009).
    @param sender Payer (authorizer).
    @param to Payee.
    @param _value Amount.
    @param validAfter Valid strictly after this unix time.
    @param validBefore Valid strictly before this unix time.
    @param nonce Unique 32-byte nonce.
    @param v Signature v.
    @param r Signature r.
    @param s Signature s.
    """
    self._when_not_paused()
    self._not_blacklisted(sender)
    self._not_blacklisted(to)
    self._require_valid_authorization(sender, nonce, validAfter, validBefore)
    self._require_valid_signature(
        sender,
        keccak256(
            abi_encode(
                TRANSFER_WITH_AUTHORIZATION_TYPEHASH, sender, to, _value, validAfter, validBefore, nonce
            )
        ),
        v,
        r,
        s,
    )
    self._mark_authorization_as_used(sender, nonce)
    self._transfer(sender, to, _value)


@external
def receiveWithAuthorization(
    sender: address,
    to: address,
    _value: uint256,
    validAfter: uint256,
    validBefore: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @notice Pull a transfer signed by `sender`; the caller must be the payee.
    @param sender Payer (authorizer).
    @param to Payee, must be the caller.
    @param _value Amount.
    @param validAfter Valid strictly after this unix time.
    @param validBefore Valid strictly before this unix time.
    @param nonce Unique 32-byte nonce.
    @param v Signature v.
    @param r Signature r.
    @param s Signature s.
    """
    self._when_not_paused()
    self._not_blacklisted(sender)
    self._not_blacklisted(to)
    assert to == msg.sender, "FiatTokenV2: caller must be the payee"
    self._require_valid_authorization(sender, nonce, validAfter, validBefore)
    self._require_valid_signature(
        sender,
        keccak256(
            abi_encode(
                RECEIVE_WITH_AUTHORIZATION_TYPEHASH, sender, to, _value, validAfter, validBefore, nonce
            )
        ),
        v,
        r,
        s,
    )
    self._mark_authorization_as_used(sender, nonce)
    self._transfer(sender, to, _value)


@external
def cancelAuthorization(authorizer: address, nonce: bytes32, v: uint8, r: bytes32, s: bytes32):
    """
    @notice Cancel an unused EIP-3009 authorization.
    @param authorizer The authorizer (signer).
    @param nonce The authorization nonce.
    @param v Signature v.
    @param r Signature r.
    @param s Signature s.
    """
    self._when_not_paused()
    self._require_unused_authorization(authorizer, nonce)
    self._require_valid_signature(
        authorizer, keccak256(abi_encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)), v, r, s
    )
    self._authorizationStates[authorizer][nonce] = True
    log AuthorizationCanceled(authorizer=authorizer, nonce=nonce)


# INTERNAL FUNCTIONS #

@view
@internal
def _when_not_paused():
    assert not self.paused, "Pausable: paused"


@view
@internal
def _only_owner():
    assert msg.sender == self.owner, "Ownable: caller is not the owner"


@view
@internal
def _not_blacklisted(account: address):
    assert not self._is_blacklisted(account), "Blacklistable: account is blacklisted"


@view
@internal
def _is_blacklisted(account: address) -> bool:
    return self.balanceAndBlacklistStates[account] >> 255 == 1


@view
@internal
def _balance_of(account: address) -> uint256:
    return self.balanceAndBlacklistStates[account] & BALANCE_MASK


@internal
def _set_balance(account: address, balance: uint256):
    assert balance <= BALANCE_MASK, "FiatTokenV2_2: Balance exceeds (2^255 - 1)"
    assert not self._is_blacklisted(account), "FiatTokenV2_2: Account is blacklisted"
    self.balanceAndBlacklistStates[account] = balance


@pure
@internal
def _safe_add(a: uint256, b: uint256) -> uint256:
    c: uint256 = unsafe_add(a, b)
    assert c >= a, "SafeMath: addition overflow"
    return c


@internal
def _transfer(sender: address, to: address, _value: uint256):
    assert sender != empty(address), "ERC20: transfer from the zero address"
    assert to != empty(address), "ERC20: transfer to the zero address"
    assert _value <= self._balance_of(sender), "ERC20: transfer amount exceeds balance"
    self._set_balance(sender, self._balance_of(sender) - _value)
    self._set_balance(to, self._safe_add(self._balance_of(to), _value))
    log Transfer(sender=sender, receiver=to, value=_value)


@internal
def _approve(owner: address, spender: address, _value: uint256):
    assert owner != empty(address), "ERC20: approve from the zero address"
    assert spender != empty(address), "ERC20: approve to the zero address"
    self.allowed[owner][spender] = _value
    log Approval(owner=owner, spender=spender, value=_value)


@view
@internal
def _domain_separator() -> bytes32:
    return keccak256(
        abi_encode(
            EIP712_DOMAIN_TYPEHASH,
            keccak256(self.name),
            keccak256(VERSION),
            chain.id,
            self,
        )
    )


@view
@internal
def _typed_data_hash(struct_hash: bytes32) -> bytes32:
    return keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))


@view
@internal
def _is_valid_signature_now(signer: address, digest: bytes32, v: uint8, r: bytes32, s: bytes32) -> bool:
    # SignatureChecker.isValidSignatureNow(signer, digest, abi.encodePacked(r, s, v))
    if not signer.is_contract:
        return self._ec_recover(digest, v, r, s) == signer
    signature: Bytes[65] = concat(r, s, convert(v, bytes1))
    success: bool = False
    response: Bytes[32] = b""
    success, response = raw_call(
        signer,
        abi_encode(digest, signature, method_id=method_id("isValidSignature(bytes32,bytes)")),
        max_outsize=32,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not success or len(response) < 32:
        return False
    return convert(response, bytes32) == convert(ERC1271_MAGIC_VALUE, bytes32)


@pure
@internal
def _ec_recover(digest: bytes32, v: uint8, r: bytes32, s: bytes32) -> address:
    # Circle's ECRecover.recover: rejects high-s and v other than 27/28.
    if convert(s, uint256) > MAX_S:
        raise "ECRecover: invalid signature 's' value"
    if v != 27 and v != 28:
        raise "ECRecover: invalid signature 'v' value"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "ECRecover: invalid signature"
    return signer


@view
@internal
def _require_valid_signature(signer: address, data_hash: bytes32, v: uint8, r: bytes32, s: bytes32):
    assert self._is_valid_signature_now(
        signer, self._typed_data_hash(data_hash), v, r, s
    ), "FiatTokenV2: invalid signature"


@view
@internal
def _require_unused_authorization(authorizer: address, nonce: bytes32):
    assert not self._authorizationStates[authorizer][nonce], "FiatTokenV2: authorization is used or canceled"


@view
@internal
def _require_valid_authorization(authorizer: address, nonce: bytes32, valid_after: uint256, valid_before: uint256):
    assert block.timestamp > valid_after, "FiatTokenV2: authorization is not yet valid"
    assert block.timestamp < valid_before, "FiatTokenV2: authorization is expired"
    self._require_unused_authorization(authorizer, nonce)


@internal
def _mark_authorization_as_used(authorizer: address, nonce: bytes32):
    self._authorizationStates[authorizer][nonce] = True
    log AuthorizationUsed(authorizer=authorizer, nonce=nonce)
