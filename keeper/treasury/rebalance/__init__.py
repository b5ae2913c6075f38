"""keeper.treasury.rebalance (see keeper/treasury/__init__.py)."""
