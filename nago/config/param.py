"""One typed parameter of a search space (:class:`Param`) and its parsing from a TOML table.

The unit-interval view: ints and categoricals map to equal-width bins of ``[0, 1]`` (every level gets the
same share), floats linearly or log-uniformly; :meth:`Param.to_unit` / :meth:`Param.from_unit` are exact
inverses on the bin centres. :mod:`nago.config.space` builds spaces from these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nago.errors import ConfigError

_PARAM_TYPES = ("int", "float", "categorical", "fixed")


@dataclass(frozen=True)
class Param:
    """One parameter of a search space.

    Attributes:
        name: the key in a config dict.
        type: ``"int" | "float" | "categorical" | "fixed"``.
        low, high: inclusive bounds for ints and floats.
        log: floats only; sample and map log-uniformly (``low > 0``).
        choices: the options of a categorical.
        value: the value of a fixed parameter.
        default: the value used when a config leaves the parameter out.
    """

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None
    default: Any = None

    @property
    def searchable(self) -> bool:
        return self.type != "fixed"

    @property
    def levels(self) -> int | None:
        """Number of discrete levels (ints, categoricals), ``None`` for continuous floats."""
        if self.type == "int":
            return int(self.high) - int(self.low) + 1
        if self.type == "categorical":
            return len(self.choices)
        return None

    def allowed(self) -> str:
        """Human-readable description of the allowed values (for error messages)."""
        if self.type == "int":
            return f"an integer in [{int(self.low)}, {int(self.high)}]"
        if self.type == "float":
            return f"a number in [{self.low}, {self.high}]" + (" (log scale)" if self.log else "")
        if self.type == "categorical":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return f"exactly {self.value!r} (fixed in this space)"

    # -- value <-> unit interval -------------------------------------------------------------
    def to_unit(self, v: Any) -> float:
        if self.type == "int":
            n = self.levels
            return (int(v) - int(self.low) + 0.5) / n
        if self.type == "float":
            if self.log:
                return (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
            return (float(v) - self.low) / (self.high - self.low) if self.high > self.low else 0.5
        if self.type == "categorical":
            return (self.choices.index(v) + 0.5) / len(self.choices)
        raise ValueError(f"fixed parameter {self.name!r} has no unit-cube coordinate")

    def from_unit(self, u: float) -> Any:
        u = min(max(float(u), 0.0), 1.0)
        if self.type == "int":
            n = self.levels
            return int(self.low) + min(int(u * n), n - 1)
        if self.type == "float":
            if self.log:  # exp(log(low)) can land a rounding error below low: clip back into the range
                v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
            else:
                v = self.low + u * (self.high - self.low)
            return float(min(max(v, self.low), self.high))
        if self.type == "categorical":
            k = len(self.choices)
            return self.choices[min(int(u * k), k - 1)]
        return self.value

    def check(self, v: Any) -> Any:
        """Return ``v`` coerced to this parameter's type; raise :class:`ConfigError` if not allowed."""
        bad = ConfigError(f"parameter {self.name!r}: got {v!r}; allowed: {self.allowed()}")
        if self.type == "int":
            if isinstance(v, bool):
                raise bad
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, (int, np.integer)) or not int(self.low) <= v <= int(self.high):
                raise bad
            return int(v)
        if self.type == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
                raise bad
            v = float(v)
            if not (self.low <= v <= self.high) or math.isnan(v):
                raise bad
            return v
        if self.type == "categorical":
            if v not in self.choices:
                raise bad
            return v
        if v != self.value and not _close(v, self.value):
            raise bad
        return self.value


def _close(a: Any, b: Any) -> bool:
    try:
        return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))
    except (TypeError, ValueError):
        return False


def parse_param(name: str, spec: Any, where: str) -> Param:
    """The parameter ``[params.NAME]`` of a TOML table; :class:`ConfigError` naming ``where``, the key and
    what is allowed when it is malformed."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: [params.{name}] must be a table, got {spec!r}")
    kind = spec.get("type")
    if kind not in _PARAM_TYPES:
        raise ConfigError(f"{where}: parameter {name!r} has type {kind!r}; allowed: {', '.join(_PARAM_TYPES)}")
    allowed_keys = {
        "int": {"type", "low", "high", "default", "doc"},
        "float": {"type", "low", "high", "log", "default", "doc"},
        "categorical": {"type", "choices", "default", "doc"},
        "fixed": {"type", "value", "doc"},
    }[kind]
    unknown = set(spec) - allowed_keys
    if unknown:
        raise ConfigError(
            f"{where}: parameter {name!r} has unknown key(s) {sorted(unknown)}; allowed for type "
            f"{kind!r}: {sorted(allowed_keys)}"
        )
    if kind in ("int", "float"):
        for key in ("low", "high"):
            if key not in spec or isinstance(spec[key], bool) or not isinstance(spec[key], (int, float)):
                raise ConfigError(f"{where}: parameter {name!r} needs a numeric {key!r}")
        low, high = spec["low"], spec["high"]
        if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
            raise ConfigError(f"{where}: int parameter {name!r} needs integer bounds, got [{low}, {high}]")
        if low > high:
            raise ConfigError(f"{where}: parameter {name!r} has low {low} > high {high}")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise ConfigError(f"{where}: log-scaled parameter {name!r} needs low > 0, got {low}")
        p = Param(name, kind, low=float(low), high=float(high), log=log)
    elif kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices or len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{where}: categorical {name!r} needs a non-empty list of distinct 'choices'")
        p = Param(name, kind, choices=tuple(choices))
    else:
        if "value" not in spec:
            raise ConfigError(f"{where}: fixed parameter {name!r} needs a 'value'")
        value = spec["value"]
        value = tuple(value) if isinstance(value, list) else value
        return Param(name, kind, value=value, default=value)
    if "default" in spec:
        default = p.check(spec["default"])
    elif kind == "int":
        default = int(math.floor((p.low + p.high) / 2))
    elif kind == "float":
        default = math.sqrt(p.low * p.high) if p.log else (p.low + p.high) / 2
    else:
        default = p.choices[0]
    return Param(p.name, p.type, p.low, p.high, p.log, p.choices, p.value, default)
