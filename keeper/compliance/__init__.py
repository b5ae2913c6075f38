"""Compliance engine: sanctions screening (see :mod:`keeper.compliance.screening`)."""
