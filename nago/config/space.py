"""Search spaces as data: typed parameters, sampling, and the unit-cube view strategies work in.

A space is read from a TOML file (``spaces/*.toml``)::

    [space]
    name = "hnag"
    description = "..."

    [params.N_t]            # an integer
    type = "int"
    low = 3
    high = 10

    [params.P_t]            # a float, optionally log-scaled
    type = "float"
    low = 0.1
    high = 0.9
    log = false

    [params.G_t]            # a categorical
    type = "categorical"
    choices = ["ws", "er", "ba"]

    [params.C_2]            # a fixed value: part of every config, never searched
    type = "fixed"
    value = 2

Every searchable parameter may carry ``default``; otherwise its default is the centre of its range
(ints rounded down, the first choice of a categorical). Strategies never see raw ranges: they work in
the unit cube ``[0, 1]^d`` over the ``d`` searchable parameters, in file order. Ints and categoricals
map to equal-width bins of the unit interval, so every level gets the same share of the cube.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from nago.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where tensors are made: a worker that only needs configs stays light
    import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

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


def _parse_param(name: str, spec: Any, where: str) -> Param:
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


SPACE_KINDS = ("generator", "table")


@dataclass(frozen=True)
class SearchSpace:
    """An ordered set of typed parameters.

    Attributes:
        name: short name (``"hnag"``).
        params: every parameter, searchable and fixed, in file order.
        description: free text.
        source: the TOML file it came from, if any.
        sections: the other top-level tables of the TOML file (read by other components).
        kind: ``"generator"`` (configs are generator parameters: networks are sampled and trained) or
            ``"table"`` (configs are looked up in the ``[table]`` section's CSV, see
            :mod:`nago.objectives.table`); ``[space] kind``, by default ``"table"`` when the file has a
            ``[table]`` section, else ``"generator"``.
    """

    name: str
    params: tuple[Param, ...]
    description: str = ""
    source: Path | None = None
    sections: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "generator"

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "space", source: Path | None = None) -> "SearchSpace":
        """Build a space from the parsed TOML structure (``[space]`` and ``[params.*]`` tables)."""
        head = data.get("space", {})
        if not isinstance(head, dict):
            raise ConfigError(f"{where}: [space] must be a table")
        unknown = set(head) - {"name", "description", "kind"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)} in [space]; allowed: description, kind, name")
        params = data.get("params")
        if not isinstance(params, dict) or not params:
            raise ConfigError(f"{where}: a space needs at least one [params.NAME] table")
        parsed = tuple(_parse_param(n, s, where) for n, s in params.items())
        others = {k: v for k, v in data.items() if k not in ("space", "params")}
        name = head.get("name", source.stem if source else "space")
        kind = head.get("kind", "table" if "table" in others else "generator")
        if kind not in SPACE_KINDS:
            raise ConfigError(f"{where}: [space] kind = {kind!r}; allowed: {', '.join(repr(k) for k in SPACE_KINDS)}")
        return cls(name=name, params=parsed, description=head.get("description", ""), source=source, sections=others,
                   kind=kind)

    @property
    def is_table(self) -> bool:
        """True for a table space (``kind = "table"``): configs are looked up, not trained."""
        return self.kind == "table"

    @classmethod
    def from_toml(cls, path: str | Path) -> "SearchSpace":
        """Read a space from a TOML file. Raises :class:`ConfigError` on a missing or malformed file."""
        path = Path(path)
        return cls.from_dict(read_toml(path), where=str(path), source=path.resolve())

    # -- views ---------------------------------------------------------------------------------
    @property
    def searchable(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.searchable)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.searchable]

    @property
    def dim(self) -> int:
        """Number of searchable parameters ``d`` (the unit cube's dimension)."""
        return len(self.searchable)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ConfigError(f"unknown parameter {name!r} in space {self.name!r}; known: {', '.join(p.name for p in self.params)}")

    def levels(self) -> list[int | None]:
        """Per unit-cube dimension: the number of discrete levels, or ``None`` if continuous."""
        return [p.levels for p in self.searchable]

    def defaults(self) -> dict[str, Any]:
        """The default config: each parameter's ``default`` (the range centre unless given)."""
        return {p.name: p.default for p in self.params}

    # -- configs -------------------------------------------------------------------------------
    def validate(self, config: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Check a config and return it complete and coerced (fixed values filled in).

        Args:
            config: ``{name: value}``. Unknown names and out-of-range values raise :class:`ConfigError`.
            partial: if true, missing searchable parameters take their defaults; otherwise they are
                an error.
        """
        known = {p.name for p in self.params}
        unknown = [k for k in config if k not in known]
        if unknown:
            raise ConfigError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for space {self.name!r}; "
                f"known: {', '.join(p.name for p in self.params)}"
            )
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in config:
                out[p.name] = p.check(config[p.name])
            elif not p.searchable or partial:
                out[p.name] = p.default
            else:
                raise ConfigError(f"parameter {p.name!r} is missing; allowed: {p.allowed()}")
        return out

    def sample(self, rng: np.random.Generator | int | None, n: int) -> list[dict[str, Any]]:
        """Draw ``n`` configs uniformly from the unit cube (log-uniform for log floats)."""
        rng = np.random.default_rng(rng)
        return self.from_unit(rng.random((n, self.dim)))

    def to_unit(self, configs: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """Map configs to the unit cube. Returns a float64 tensor of shape ``[n, d]``."""
        import torch

        rows = []
        for c in configs:
            full = self.validate(c)
            rows.append([p.to_unit(full[p.name]) for p in self.searchable])
        return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), self.dim)

    def from_unit(self, X: torch.Tensor | np.ndarray) -> list[dict[str, Any]]:
        """Map points ``X`` of shape ``[n, d]`` in ``[0,1]^d`` to complete configs (values clipped)."""
        if hasattr(X, "detach"):  # a torch tensor
            X = X.detach().cpu().numpy()
        X = np.asarray(X, dtype=float).reshape(-1, self.dim)
        out = []
        for row in X:
            it = iter(row)
            out.append({p.name: (p.from_unit(next(it)) if p.searchable else p.value) for p in self.params})
        return out

    def round_unit(self, X: torch.Tensor) -> torch.Tensor:
        """Snap unit-cube points to the centres of their int/categorical bins (shape kept)."""
        import torch

        X = X.clone()
        for j, n in enumerate(self.levels()):
            if n is not None:
                X[..., j] = (torch.clamp(torch.floor(X[..., j] * n), 0, n - 1) + 0.5) / n
        return X

    def fix(self, values: Mapping[str, Any]) -> "SearchSpace":
        """A copy of this space with the given parameters fixed to checked values (not searched)."""
        checked = {k: self[k].check(v) for k, v in values.items()}
        params = tuple(Param(p.name, "fixed", value=checked[p.name], default=checked[p.name]) if p.name in checked else p
                       for p in self.params)
        return dataclasses.replace(self, params=params)

    def extend(self, params: Mapping[str, Mapping[str, Any]], *, where: str = "space") -> "SearchSpace":
        """A copy with more parameters (space-file tables ``{name: {"type": ..., ...}}``) after the others.

        Raises:
            ConfigError: a name the space already has, or a malformed table.
        """
        taken = sorted(set(params) & {p.name for p in self.params})
        if taken:
            raise ConfigError(f"{where}: parameter(s) {taken} already in space {self.name!r}; allowed: new names")
        added = tuple(_parse_param(n, dict(spec), where) for n, spec in params.items())
        return dataclasses.replace(self, params=self.params + added)

    def key(self, config: Mapping[str, Any]) -> tuple:
        """A hashable identity of a config's searchable values (floats rounded to 1e-9)."""
        c = self.validate(config, partial=True)
        return tuple(round(c[p.name], 9) if p.type == "float" else c[p.name] for p in self.searchable)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file raises :class:`ConfigError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"file not found: {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: malformed TOML: {e}") from None


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """Parse CLI ``NAME=VALUE`` strings; values are read as TOML literals (``4``, ``0.5``, ``"ws"``),
    falling back to plain strings (``G_t=ws``)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects NAME=VALUE, got {item!r}")
        name, raw = item.split("=", 1)
        name, raw = name.strip(), raw.strip()
        try:
            out[name] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[name] = raw
    return out
