"""Strongroom keeper: the off-chain half of the custody system."""
