"""Checking a strategy's options (``[search.options]``): the one place every strategy does it.

Each checker takes the strategy's name, the option's name and the value, and returns the value in
its canonical type, or raises :class:`~nago.errors.ConfigError` with one message format::

    strategy 'bohb': option 'eta' got 1; allowed: a number > 1

so the user sees which strategy, which option, what they gave and what is allowed. Unknown option
keys are rejected by :func:`check_unknown`, and a space with nothing to search by
:func:`require_searchable`.

Example:
    >>> check_unknown("rea", {"populaton": 8}, ("population", "sample_size"))
    Traceback (most recent call last):
    ...
    nago.errors.ConfigError: strategy 'rea': unknown option(s) ['populaton']; allowed: population, sample_size
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from nago.errors import ConfigError

if TYPE_CHECKING:
    from nago.config.space import SearchSpace


def option_error(strategy: str, name: str, value: Any, allowed: str) -> ConfigError:
    """The :class:`ConfigError` for a bad option value (to ``raise``); ``allowed`` says what is allowed."""
    return ConfigError(f"strategy {strategy!r}: option {name!r} got {value!r}; allowed: {allowed}")


def check_unknown(strategy: str, options: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise :class:`ConfigError` naming the keys of ``options`` not in ``allowed``, and the allowed ones."""
    allowed = sorted(allowed)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"strategy {strategy!r}: unknown option(s) {unknown}; allowed: {', '.join(allowed) or '(none)'}"
        )


def require_searchable(space: SearchSpace, strategy: str) -> None:
    """Raise :class:`ConfigError` if ``space`` has nothing to search (every parameter fixed)."""
    if space.dim == 0:
        raise ConfigError(
            f"strategy {strategy!r}: space {space.name!r} has no searchable parameter (all are fixed); "
            "allowed: a space with at least one int, float or categorical parameter"
        )


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not _is_bool(value)


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _span(kind: str, low: float, high: float, open_low: bool, open_high: bool) -> str:
    """``"an integer >= 2"``, ``"a number in (0, 1]"``, ``"a number"``."""
    if math.isinf(low) and math.isinf(high):
        return kind
    if math.isinf(high):
        return f"{kind} {'>' if open_low else '>='} {_fmt(low)}"
    if math.isinf(low):
        return f"{kind} {'<' if open_high else '<='} {_fmt(high)}"
    return f"{kind} in {'(' if open_low else '['}{_fmt(low)}, {_fmt(high)}{')' if open_high else ']'}"


def _inside(v: float, low: float, high: float, open_low: bool, open_high: bool) -> bool:
    return (v > low if open_low else v >= low) and (v < high if open_high else v <= high)


def int_option(strategy: str, name: str, value: Any, low: int = 1, high: float = math.inf) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (bools are not integers).

    Raises:
        ConfigError: not an integer, or outside ``[low, high]``.
    """
    if not isinstance(value, Integral) or _is_bool(value) or not _inside(int(value), low, high, False, False):
        raise option_error(strategy, name, value, _span("an integer", low, high, False, False))
    return int(value)


def float_option(
    strategy: str,
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """``value`` as a finite ``float`` between ``low`` and ``high`` (ints accepted; bools and NaN not).

    Args:
        strategy: the strategy's name (for the message).
        name: the option's name.
        value: what the user gave.
        low: the smallest value allowed (excluded if ``open_low``).
        high: the largest value allowed (excluded if ``open_high``).

    Raises:
        ConfigError: not a number, NaN or infinite, or outside the range.
    """
    ok = _is_number(value) and math.isfinite(float(value)) and _inside(float(value), low, high, open_low, open_high)
    if not ok:
        raise option_error(strategy, name, value, _span("a number", low, high, open_low, open_high))
    return float(value)


def fraction_option(strategy: str, name: str, value: Any) -> float:
    """``value`` as a ``float`` in ``[0, 1]``."""
    return float_option(strategy, name, value, 0.0, 1.0)


def choice_option(strategy: str, name: str, value: Any, allowed: Sequence[str]) -> str:
    """The element of ``allowed`` that ``value`` names (a string, compared case-insensitively).

    Raises:
        ConfigError: not a string, or not one of ``allowed``.
    """
    if isinstance(value, str):
        for a in allowed:
            if value.lower() == a.lower():
                return a
    raise option_error(strategy, name, value, ", ".join(allowed))


def bool_option(strategy: str, name: str, value: Any) -> bool:
    """``value`` as a ``bool``: only ``true`` / ``false`` (not 0, 1 or strings).

    Raises:
        ConfigError: anything but a boolean.
    """
    if not _is_bool(value):
        raise option_error(strategy, name, value, "true or false")
    return bool(value)


def warm_init_option(strategy: str, value: Any, space: "SearchSpace") -> int:
    """The ``warm_init`` option of a strategy that takes warm starts: how many of the earlier studies'
    best configs it evaluates first; ``None``: ``d + 1`` (half of mobo's default initial design)."""
    return space.dim + 1 if value is None else int_option(strategy, "warm_init", value, 0)
