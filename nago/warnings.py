"""The warning vocabulary: what nago warns about while a study goes on.

Inside nago ``import warnings`` is the standard library; import these by name
(``from nago.warnings import SpaceExhaustedWarning``) or as ``import nago.warnings as nago_warnings``.
To silence one kind, filter by its class, e.g.
``warnings.simplefilter("ignore", SurrogateFallbackWarning)``.
"""

from __future__ import annotations

__all__ = ["NagoWarning", "SpaceExhaustedWarning", "SurrogateFallbackWarning"]


class NagoWarning(UserWarning):
    """Base class of every warning nago issues on purpose."""


class SurrogateFallbackWarning(NagoWarning):
    """A strategy's surrogate (GP, NAO model) could not be fitted or optimised; this ask fell back to
    Sobol points, and the study goes on."""


class SpaceExhaustedWarning(NagoWarning, RuntimeWarning):
    """A finite space looks exhausted: every config was already seen (told or pending), so ``ask``
    returns fewer proposals than asked for (possibly none).

    Also a :class:`RuntimeWarning` (what it was before it had a class of its own), so filters on
    ``RuntimeWarning`` still catch it.
    """
