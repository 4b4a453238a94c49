"""Tabular benchmarks (NAS-Bench-201 and any CSV of architectures): a space and an objective from a TOML.

A table space is an ordinary space file with a ``[table]`` section::

    [space]
    name = "nb201"
    kind = "table"

    [params.e0]                       # ... e1..e5: one categorical per cell edge
    type = "categorical"
    choices = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]

    [table]
    csv = "data/nb201.csv.gz"         # relative to the TOML file, or absolute; .gz is read with gzip
    key = "arch_str"                  # the column a config is looked up in
    template = "|{e0}~0|+|{e1}~0|{e2}~1|+|{e3}~0|{e4}~1|{e5}~2|"   # config -> key (str.format)
    search = ["cifar10valid_valid_200ep"]   # what the strategies see (the study's objectives)
    report = ["cifar10_test_200ep"]         # only reported
    dedupe = "unique_str"             # optional: the column naming isomorphic duplicates
    ref_point = [80.0]                # optional: hypervolume reference (search metrics, raw units)

    [table.metrics]                   # metric columns and their directions
    cifar10valid_valid_200ep = "max"
    cifar10_test_200ep = "max"

Fidelities (optional): a table that holds results after several training lengths maps each shorter one
to the columns that stand in for the metrics then, and may name the cost of a query::

    [table.fidelity]
    epochs = [12, 200]                          # the fidelities the table has (a query without one: the highest)
    cost = "cifar10valid_train_time_200ep_s"    # cost at the highest fidelity; at f epochs: x f / highest
    [table.fidelity.columns.12]                 # at 12 epochs these metrics read these columns
    cifar10valid_valid_200ep = "cifar10valid_valid_12ep"

A query at fidelity ``f`` returns every metric (those without a column at ``f``, e.g. the training time
of the full run or the parameter count, keep their value) plus ``query_cost``: the ``cost`` column scaled by
``f / highest`` (the table's seconds spent), or ``f`` epochs without a ``cost``; tables without fidelities
cost 1 per query. A fidelity the table does not have fails the trial as ``invalid``.

Without ``template`` the parameters themselves are columns of the CSV and a config matches the row
whose values (as text) equal the config's. Parameters must be categorical, int or fixed. At load time
every config of the space must match a row (``allow_missing = true`` relaxes that: a config with no
row then fails as ``invalid``). The CSV is read with the stdlib (no pandas); lookups are a dict.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from nago.errors import ConfigError
from nago.errors import EvalFailure
from nago.objectives.base import EvalResult, Objective
from nago.objectives.table_fidelity import TableFidelity, load_fidelity
from nago.config.space import SearchSpace
from nago.study.trial import ObjectiveSpec

_KEYS = {"csv", "key", "template", "metrics", "search", "report", "dedupe", "ref_point", "allow_missing", "fidelity"}
_MAX_ENUMERATE = 2_000_000  # spaces up to this size are checked config by config at load time


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"table csv {path}: cannot be read ({e})") from None
    if not header:
        raise ConfigError(f"table csv {path}: empty file; allowed: a header row and one row per architecture")
    return header, rows


@dataclass(frozen=True, eq=False)
class Table:
    """A loaded tabular benchmark.

    Attributes:
        path: the CSV file.
        metrics: metric columns in file order, each as an :class:`ObjectiveSpec` (name, direction).
        search: the metrics the strategies optimise (the study's objectives).
        report: the metrics only reported.
        values: ``[n_rows, n_metrics]`` float64, columns in ``metrics`` order.
        keys: the key of each row.
        groups: per row, the integer id of its dedupe group (its own row index without ``dedupe``).
        ref_point: hypervolume reference point of the search metrics (raw units), or ``None``.
        fidelity: the ``[table.fidelity]`` section, or ``None`` (one value per architecture).
    """

    path: Path
    space: SearchSpace
    key_column: str
    template: str | None
    metrics: tuple[ObjectiveSpec, ...]
    search: tuple[ObjectiveSpec, ...]
    report: tuple[ObjectiveSpec, ...]
    values: np.ndarray
    keys: tuple[str, ...]
    groups: np.ndarray
    dedupe: str | None
    ref_point: tuple[float, ...] | None
    _index: Mapping[Any, int]
    fidelity: TableFidelity | None = None

    # -- lookups --------------------------------------------------------------------------------
    def key_of(self, config: Mapping[str, Any]) -> Any:
        """The lookup key of a config: the filled template, or the tuple of parameter values as text."""
        c = self.space.validate(config, partial=True)
        if self.template is not None:
            return self.template.format(**c)
        return tuple(str(c[p.name]) for p in self.space.params)

    def row(self, config: Mapping[str, Any]) -> int:
        """Row index of a config; :class:`ConfigError` if no row matches."""
        key = self.key_of(config)
        try:
            return self._index[key]
        except KeyError:
            raise ConfigError(f"table {self.path.name}: config {dict(config)} gives {self.key_column}={key!r}, "
                              "which matches no row") from None

    def metrics_of(self, row: int) -> dict[str, float]:
        """Every metric column of ``row`` as floats, plus ``table_row`` and ``table_group``."""
        out = {m.name: float(v) for m, v in zip(self.metrics, self.values[row])}
        out["table_row"], out["table_group"] = float(row), float(self.groups[row])
        return out

    def metrics_at(self, row: int, fidelity: float | None) -> dict[str, float]:
        """:meth:`metrics_of` at a fidelity (``None``: the highest) plus ``query_cost`` (see the module
        docstring); :class:`EvalFailure` (``invalid``) for a fidelity the table does not have."""
        out = self.metrics_of(row)
        out["query_cost"] = self.query_cost(row, fidelity)
        if self.fidelity is not None:
            for j, col in self.fidelity.columns.get(self.fidelity.level(fidelity), {}).items():
                out[self.metrics[j].name] = float(col[row])
        return out

    def query_cost(self, row: int, fidelity: float | None) -> float:
        """Cost of querying ``row`` at ``fidelity``: the ``cost`` column x ``fidelity / highest``, else the
        fidelity's epochs; 1 for a table without fidelities."""
        if self.fidelity is None:
            return 1.0
        level = self.fidelity.level(fidelity)
        if self.fidelity.cost is None:
            return float(level)
        return float(self.fidelity.cost[row]) * level / self.fidelity.levels[-1]

    def full_query_cost(self) -> float:
        """Mean cost of a query at the highest fidelity over all rows: the unit of ``nago bench search``'s
        cost axis (1 for a table without fidelities)."""
        if self.fidelity is None:
            return 1.0
        if self.fidelity.cost is None:
            return float(self.fidelity.levels[-1])
        return float(np.mean(self.fidelity.cost))

    def column(self, name: str) -> np.ndarray:
        """Values ``[n_rows]`` of one metric column."""
        names = [m.name for m in self.metrics]
        if name not in names:
            raise ConfigError(f"table {self.path.name}: unknown metric {name!r}; allowed: {', '.join(names)}")
        return self.values[:, names.index(name)]

    def search_values(self, specs: Sequence[ObjectiveSpec] | None = None) -> np.ndarray:
        """``[n_rows, m]`` values of ``specs`` (default: the search metrics), raw units: the convention of
        :func:`nago.analysis.pareto.objective_matrix`, so the result goes straight into its functions."""
        return np.stack([self.column(s.name) for s in (specs or self.search)], axis=1)

    def best_row(self) -> int:
        """Row of the best value of the first search metric (first such row on ties)."""
        col = self.column(self.search[0].name)
        return int(np.argmax(col) if self.search[0].maximize else np.argmin(col))

    def __len__(self) -> int:
        return len(self.keys)


def _metric_specs(table: Mapping[str, Any], where: str, header: list[str]) -> tuple[ObjectiveSpec, ...]:
    metrics = table.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise ConfigError(f"{where}: [table.metrics] needs at least one COLUMN = \"max\" | \"min\"")
    specs = []
    for name, direction in metrics.items():
        if name not in header:
            raise ConfigError(f"{where}: [table.metrics] column {name!r} is not in the CSV; allowed: {', '.join(header)}")
        if direction not in ("max", "min"):
            raise ConfigError(f"{where}: [table.metrics] {name} = {direction!r}; allowed: \"max\", \"min\"")
        specs.append(ObjectiveSpec(name, direction == "max"))
    return tuple(specs)


def _pick(table: Mapping[str, Any], field: str, metrics: tuple[ObjectiveSpec, ...], where: str, *, required: bool):
    names = table.get(field, [])
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or (required and not names):
        raise ConfigError(f"{where}: [table] {field} = {names!r}; allowed: a list of metric names from [table.metrics]")
    by_name = {m.name: m for m in metrics}
    bad = [n for n in names if n not in by_name]
    if bad:
        raise ConfigError(f"{where}: [table] {field} names {bad}, not in [table.metrics]; allowed: {', '.join(by_name)}")
    return tuple(by_name[n] for n in names)


def _check_template(template: Any, space: SearchSpace, where: str) -> None:
    if not isinstance(template, str):
        raise ConfigError(f"{where}: [table] template = {template!r}; allowed: a string with {{PARAM}} fields")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise ConfigError(f"{where}: [table] template {template!r} is malformed: {e}") from None
    names = {p.name for p in space.params}
    bad = sorted(fields - names)
    if bad:
        raise ConfigError(f"{where}: [table] template uses {bad}, not parameters of the space; allowed: {', '.join(sorted(names))}")


def load_table(space: SearchSpace) -> Table:
    """Load the ``[table]`` section of a space read by :meth:`SearchSpace.from_toml`.

    Raises:
        ConfigError: a missing section, file or column, a metric that is not a number, a search
            metric missing, or (unless ``allow_missing``) a config of the space that matches no row.
    """
    where = str(space.source or space.name)
    table = space.sections.get("table")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: no [table] section; a table space needs [table] csv, key, metrics and search")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [table]; allowed: {', '.join(sorted(_KEYS))}")
    bad = [p.name for p in space.params if p.type not in ("categorical", "int", "fixed")]
    if bad:
        raise ConfigError(f"{where}: table spaces need categorical, int or fixed parameters; {bad} are not")
    if not isinstance(table.get("csv"), str):
        raise ConfigError(f"{where}: [table] csv = {table.get('csv')!r}; allowed: a path (relative to the TOML or absolute)")
    path = Path(table["csv"])
    if not path.is_absolute() and space.source is not None:
        path = Path(space.source).parent / path
    if not path.is_file():
        raise ConfigError(f"{where}: [table] csv: file not found: {path}")
    header, rows = _read_csv(path)
    template = table.get("template")
    if template is not None:
        _check_template(template, space, where)
    key_column = table.get("key")
    key_cols = [key_column] if template is not None else [p.name for p in space.params]
    if template is not None and not isinstance(key_column, str):
        raise ConfigError(f"{where}: [table] key = {key_column!r}; allowed: the name of the CSV column the template fills")
    missing_cols = [c for c in key_cols if c not in header]
    if missing_cols:
        what = "key" if template is not None else "parameter (no template: parameters are columns)"
        raise ConfigError(f"{where}: [table] {what} column(s) {missing_cols} not in the CSV; allowed: {', '.join(header)}")
    metrics = _metric_specs(table, where, header)
    search = _pick(table, "search", metrics, where, required=True)
    report = _pick(table, "report", metrics, where, required=False)
    dedupe = table.get("dedupe")
    if dedupe is not None and dedupe not in header:
        raise ConfigError(f"{where}: [table] dedupe column {dedupe!r} is not in the CSV; allowed: {', '.join(header)}")
    col = {name: i for i, name in enumerate(header)}
    values = np.empty((len(rows), len(metrics)), dtype=np.float64)
    index: dict[Any, int] = {}
    keys, group_ids, groups = [], {}, np.empty(len(rows), dtype=np.int64)
    for r, row in enumerate(rows):
        if len(row) != len(header):
            raise ConfigError(f"{path}: row {r + 2} has {len(row)} fields; the header has {len(header)}")
        key = row[col[key_column]] if template is not None else tuple(row[col[c]] for c in key_cols)
        if key in index:
            raise ConfigError(f"{path}: key {key!r} appears in rows {index[key] + 2} and {r + 2}; keys must be unique")
        index[key] = r
        keys.append(key)
        for j, m in enumerate(metrics):
            try:
                values[r, j] = float(row[col[m.name]])
            except ValueError:
                raise ConfigError(f"{path}: row {r + 2}, column {m.name!r}: {row[col[m.name]]!r} is not a number") from None
        groups[r] = group_ids.setdefault(row[col[dedupe]] if dedupe else r, len(group_ids))
    ref = table.get("ref_point")
    if ref is not None and (not isinstance(ref, list) or len(ref) != len(search)
                            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in ref)):
        raise ConfigError(f"{where}: [table] ref_point = {ref!r}; allowed: {len(search)} finite numbers, one per search metric")
    fidelity = load_fidelity(table.get("fidelity"), where, header, rows, metrics, path)
    out = Table(path=path, space=space, key_column=key_column or "/".join(key_cols), template=template, metrics=metrics,
                search=search, report=report, values=values, keys=tuple(keys), groups=groups, dedupe=dedupe,
                ref_point=tuple(float(v) for v in ref) if ref is not None else None, _index=index, fidelity=fidelity)
    if not table.get("allow_missing", False):
        _check_complete(out, where)
    return out


def _check_complete(table: Table, where: str) -> None:
    """Every config of the space must match a row (checked exhaustively for spaces up to 2M configs)."""
    levels = table.space.levels()
    if math.prod(levels) > _MAX_ENUMERATE:
        table.row(table.space.defaults())
        return
    domains = [p.choices if p.type == "categorical" else range(int(p.low), int(p.high) + 1) for p in table.space.searchable]
    names = table.space.names
    misses, first = 0, None
    for combo in itertools.product(*domains):
        config = dict(zip(names, combo))
        if table.key_of(config) not in table._index:
            misses += 1
            first = first or (config, table.key_of(config))
    if misses:
        raise ConfigError(f"{where}: {misses} of {math.prod(levels)} configs match no row of {table.path.name} (column "
                          f"{table.key_column!r}); first: {first[0]} -> {first[1]!r}. Fix the template/choices, or set "
                          "[table] allow_missing = true")


class TableObjective(Objective):
    """Look a config up in a :class:`Table`: every metric column of its row, as floats.

    ``seed`` is ignored; ``fidelity`` selects the table's columns for that fidelity when it has a
    ``[table.fidelity]`` section (ignored otherwise), and ``query_cost`` says what the query cost. A config
    with no row, or a fidelity the table does not have, fails the trial as ``invalid``.

    Args:
        table: the loaded table.
    """

    def __init__(self, *, table: Table) -> None:
        self.table = table

    def __call__(self, config: Mapping[str, Any], *, seed: int, fidelity: float | None = None) -> EvalResult:
        try:
            row = self.table.row(config)
        except ConfigError as e:
            raise EvalFailure("invalid", str(e)) from None
        return EvalResult(self.table.metrics_at(row, fidelity))


def load_table_space(path: str | Path) -> tuple[SearchSpace, Table]:
    """Read a table space TOML: the :class:`SearchSpace` and its loaded :class:`Table`."""
    space = SearchSpace.from_toml(path)
    return space, load_table(space)
