"""What a trial evaluates: ``(config, *, seed, fidelity) -> metrics`` (live training or a table lookup)."""
