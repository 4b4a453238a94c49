"""Search strategies (ask/tell), registered by name in :data:`STRATEGIES`."""

from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.strategies import bohb  # noqa: F401  (registers "bohb")

__all__ = ["STRATEGIES", "Proposal", "Strategy"]
