"""Local services that play vendor roles in their own processes (core banking, issuer, ...)."""
