"""``[table.fidelity]`` of a table space: the columns a metric reads at each fidelity and the cost of a
query (format: :mod:`nago.objectives.table`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nago.errors import ConfigError, EvalFailure
from nago.study.trial import ObjectiveSpec

_FIDELITY_KEYS = {"epochs", "cost", "columns"}


@dataclass(frozen=True, eq=False)
class TableFidelity:
    """The ``[table.fidelity]`` section, loaded.

    Attributes:
        levels: the fidelities (epochs), increasing; the last is the highest.
        cost: ``[n_rows]`` cost of a query at the highest fidelity (the ``cost`` column), or ``None``
            (then a query costs its epochs).
        columns: ``{level: {metric index: [n_rows] values}}``: what a metric reads below the highest level.
    """

    levels: tuple[float, ...]
    cost: np.ndarray | None
    columns: Mapping[float, Mapping[int, np.ndarray]]

    def level(self, fidelity: float | None) -> float:
        """The table level of a query's fidelity (``None``: the highest); :class:`EvalFailure` (``invalid``)
        when the table has no such fidelity."""
        if fidelity is None:
            return self.levels[-1]
        for lv in self.levels:
            if math.isclose(float(fidelity), lv, rel_tol=1e-9):
                return lv
        raise EvalFailure("invalid", f"fidelity {fidelity:g} is not in the table; allowed: "
                                     f"{', '.join(f'{v:g}' for v in self.levels)} epochs")


def _numeric_column(name: str, header: list[str], rows: list[list[str]], path: Path, where: str, what: str) -> np.ndarray:
    if name not in header:
        raise ConfigError(f"{where}: {what} column {name!r} is not in the CSV; allowed: {', '.join(header)}")
    j = header.index(name)
    out = np.empty(len(rows), dtype=np.float64)
    for r, row in enumerate(rows):
        try:
            out[r] = float(row[j])
        except ValueError:
            raise ConfigError(f"{path}: row {r + 2}, column {name!r}: {row[j]!r} is not a number") from None
    return out


def load_fidelity(section: Any, where: str, header: list[str], rows: list[list[str]],
                   metrics: tuple[ObjectiveSpec, ...], path: Path) -> TableFidelity | None:
    """Validate and load ``[table.fidelity]`` (see the module docstring)."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: [table] fidelity must be a table with epochs = [...], optional cost and columns")
    unknown = sorted(set(section) - _FIDELITY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [table.fidelity]; allowed: {', '.join(sorted(_FIDELITY_KEYS))}")
    levels = section.get("epochs")
    if not (isinstance(levels, list) and levels and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        and math.isfinite(v) and v > 0 for v in levels)
            and all(a < b for a, b in zip(levels, levels[1:]))):
        raise ConfigError(f"{where}: [table.fidelity] epochs = {levels!r}; allowed: increasing numbers > 0, e.g. [12, 200]")
    levels_t = tuple(float(v) for v in levels)
    cost = section.get("cost")
    if cost is not None and not isinstance(cost, str):
        raise ConfigError(f"{where}: [table.fidelity] cost = {cost!r}; allowed: the name of a CSV column (cost at the highest fidelity)")
    cost_values = None if cost is None else _numeric_column(cost, header, rows, path, where, "[table.fidelity] cost")
    columns = section.get("columns", {})
    if not isinstance(columns, dict):
        raise ConfigError(f"{where}: [table.fidelity] columns must be tables [table.fidelity.columns.EPOCHS] METRIC = \"COLUMN\"")
    names = [m.name for m in metrics]
    loaded: dict[float, dict[int, np.ndarray]] = {}
    for key, mapping in columns.items():
        try:
            level = float(key)
        except ValueError:
            level = math.nan
        match = [lv for lv in levels_t[:-1] if math.isclose(level, lv, rel_tol=1e-9)]
        if not match or not isinstance(mapping, dict):
            raise ConfigError(f"{where}: [table.fidelity.columns.{key}]: allowed: one table per fidelity below the highest "
                              f"({', '.join(f'{v:g}' for v in levels_t[:-1]) or 'none'}), METRIC = \"COLUMN\"")
        for metric, col in mapping.items():
            if metric not in names:
                raise ConfigError(f"{where}: [table.fidelity.columns.{key}] {metric!r} is not in [table.metrics]; allowed: {', '.join(names)}")
            if not isinstance(col, str):
                raise ConfigError(f"{where}: [table.fidelity.columns.{key}] {metric} = {col!r}; allowed: a CSV column name")
            loaded.setdefault(match[0], {})[names.index(metric)] = _numeric_column(
                col, header, rows, path, where, f"[table.fidelity.columns.{key}]")
    return TableFidelity(levels=levels_t, cost=cost_values, columns=loaded)
