"""What the local vendor stand-ins (issuer, partner, ...) share: the one home of each rule."""
