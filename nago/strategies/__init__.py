"""Search strategies (ask/tell), registered by name in :data:`STRATEGIES`."""

from nago.strategies.base import STRATEGIES, Proposal, Strategy

__all__ = ["STRATEGIES", "Proposal", "Strategy"]
