# pragma version 0.4.3
"""
@title Strongroom Multisig: self-authorization
@license Apache-2.0
@author Strongroom
@notice Configuration changes run only as a call from the multisig to itself, i.e. through
    `execTransaction` with `threshold` owner signatures (Safe 1.4.1's SelfAuthorized, GS031).
"""


@internal
def _only_self():
    assert msg.sender == self, "GS031"
