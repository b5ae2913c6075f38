"""keeper.treasury.pooling (see keeper/treasury/__init__.py)."""
