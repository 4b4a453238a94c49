"""The hierarchical generator: random graphs -> ArchSpec (pure data) -> nn.Module, and its profile."""
