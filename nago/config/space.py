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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from nago.config.param import Param, parse_param
from nago.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where tensors are made: a worker that only needs configs stays light
    import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


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
        parsed = tuple(parse_param(n, s, where) for n, s in params.items())
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
        added = tuple(parse_param(n, dict(spec), where) for n, spec in params.items())
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


def parse_assignments(items: Sequence[str], *, flag: str = "--set") -> dict[str, Any]:
    """Parse CLI ``NAME=VALUE`` strings (given with ``flag``, named in errors); values are read as TOML
    literals (``4``, ``0.5``, ``"ws"``), falling back to plain strings (``G_t=ws``)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{flag} expects NAME=VALUE, got {item!r}")
        name, raw = item.split("=", 1)
        name, raw = name.strip(), raw.strip()
        try:
            out[name] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[name] = raw
    return out
