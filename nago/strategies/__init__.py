"""Search strategies (ask/tell), registered by name in :data:`STRATEGIES`."""

from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.strategies import bohb  # noqa: F401  (registers "bohb")
from nago.strategies import mobo  # noqa: F401  (registers "mobo")
from nago.strategies import random  # noqa: F401  (registers "random")

__all__ = ["STRATEGIES", "Proposal", "Strategy"]
