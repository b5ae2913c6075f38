# pragma version 0.4.3
"""
@title Test-only EIP-1271 owner (legacy Safe 1.4.1 flavour)
@notice isValidSignature(bytes,bytes) -> 0x20c13b0b when `_signature` is an ECDSA signature of
    keccak256(_data) by `signer`; `accept = False` makes it answer a wrong magic value.
"""

signer: public(address)
accept: public(bool)


@deploy
def __init__(signer: address):
    self.signer = signer
    self.accept = True


@external
def setAccept(accept: bool):
    """
    @notice Toggle acceptance (tests of GS024).
    """
    self.accept = accept


@view
@external
def isValidSignature(_data: Bytes[1024], _signature: Bytes[1024]) -> bytes4:
    """
    @notice Legacy EIP-1271 check over the raw data.
    """
    if not self.accept or len(_signature) != 65:
        return 0xdeadbeef
    r: uint256 = extract32(_signature, 0, output_type=uint256)
    s: uint256 = extract32(_signature, 32, output_type=uint256)
    v: uint256 = extract32(_signature, 33, output_type=uint256) & 255
    if ecrecover(keccak256(_data), v, r, s) == self.signer:
        return 0x20c13b0b
    return 0xffffffff
