"""keeper.treasury.tiers (see keeper/treasury/__init__.py)."""
