"""Warm starts: what earlier studies over the same space observed, mapped onto a new study's objectives.

A source is an earlier study's directory (holding ``study.sqlite``) or the store file itself. Loading
one (:func:`load_source`) checks that its searchable parameters are the new study's (same names and
types, else :class:`~nago.errors.ConfigError` naming the parameter that differs), maps objectives and
keeps a snapshot of its observations, which the new study stores (meta ``"warm_start"``): a resume uses
that snapshot, never the source again, so it continues exactly even if the source has grown or moved.

Objectives are matched **by name** (each target objective to the source objective of the same metric;
targets without one get no prior), or, when no name matches and both studies have the same number of
objectives, **by position** (e.g. CIFAR-10 ``val_acc`` -> FLOWERS102 ``val_acc`` under other metric
names, as table spaces have). Anything else is an error that lists both lists. Values are kept in the
**source's own sense** (maximisation sense of the source's direction: a source that minimised a metric
the target maximises counts as preferring low values); strategies model how the target relates to it.

Which observations: the source's complete trials at its highest fidelity whose mapped objectives are
finite; configs outside the target's ranges or choices are left out (counted in ``dropped``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from nago.config.space import SearchSpace
from nago.errors import ConfigError, NagoError
from nago.study.storage import STORE_FILE
from nago.study.trial import ObjectiveSpec, TrialState


@dataclass(frozen=True)
class WarmSource:
    """One earlier study's observations in the new study's terms.

    Attributes:
        path: where it was read from (absolute).
        name: the source study's run name.
        mapping: per target objective, the source objective it was mapped to (``"name:max"``) or ``None``.
        configs: ``n`` complete configs, valid in the target space.
        values: ``[n, m]`` float64, per target objective the mapped source metric in the source's
            maximisation sense (negated where the source minimised it); NaN where unmapped.
        fidelity: the source trials' fidelity (epochs), ``None`` when the source had none.
        dropped: source observations left out (outside the target's ranges).
    """

    path: str
    name: str
    mapping: tuple[str | None, ...]
    configs: tuple[dict[str, Any], ...]
    values: np.ndarray = field(repr=False)
    fidelity: float | None = None
    dropped: int = 0

    def ranked_configs(self) -> list[dict[str, Any]]:
        """The configs best first: non-dominated rank over the mapped objectives, then hypervolume
        contribution (:func:`~nago.analysis.pareto.pareto_order`): the front first, spread along it."""
        from nago.analysis.pareto import pareto_order

        cols = [j for j, m in enumerate(self.mapping) if m is not None]
        if not self.configs:
            return []
        order = pareto_order(self.values[:, cols], maximize=[True] * len(cols))
        return [self.configs[i] for i in order]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "mapping": list(self.mapping), "configs": list(self.configs),
                "values": [[None if not math.isfinite(v) else float(v) for v in row] for row in self.values.tolist()],
                "fidelity": self.fidelity, "dropped": self.dropped}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "WarmSource":
        m = len(d["mapping"])
        values = np.array([[np.nan if v is None else float(v) for v in row] for row in d["values"]], dtype=float)
        return cls(path=d["path"], name=d["name"], mapping=tuple(d["mapping"]), configs=tuple(d["configs"]),
                   values=values.reshape(len(d["configs"]), m), fidelity=d.get("fidelity"), dropped=int(d.get("dropped", 0)))


@dataclass(frozen=True)
class WarmStart:
    """The prior of a warm-started study: one or more :class:`WarmSource`.

    Strategies that take one (``supports_warm_start``) read :meth:`initial_configs` (evaluated first, in
    place of part of their initial design) and :attr:`sources` (observations for their surrogate)."""

    sources: tuple[WarmSource, ...]

    def initial_configs(self, space: SearchSpace, k: int) -> list[dict[str, Any]]:
        """Up to ``k`` distinct configs to evaluate first: each source's :meth:`~WarmSource.ranked_configs`,
        taken in turn (first of each source, then the second of each, ...)."""
        ranked = [s.ranked_configs() for s in self.sources]
        out, seen = [], set()
        for i in range(max((len(r) for r in ranked), default=0)):
            for r in ranked:
                if i < len(r) and len(out) < k and space.key(r[i]) not in seen:
                    seen.add(space.key(r[i]))
                    out.append(dict(r[i]))
        return out

    def observations(self, j: int) -> list[tuple[list[dict[str, Any]], np.ndarray]]:
        """Per source with objective ``j`` mapped: its configs with a finite value and those values ``[n_s]``."""
        out = []
        for s in self.sources:
            if s.mapping[j] is None:
                continue
            ok = np.isfinite(s.values[:, j])
            if ok.any():
                out.append(([c for c, keep in zip(s.configs, ok) if keep], s.values[ok, j]))
        return out

    def describe(self) -> str:
        """One line per source: path, observations used, objective mapping."""
        lines = []
        for s in self.sources:
            pairs = ", ".join(f"{m}" for m in s.mapping)
            extra = f", {s.dropped} outside this space left out" if s.dropped else ""
            fid = f" at fidelity {s.fidelity:g}" if s.fidelity is not None else ""
            lines.append(f"{s.path} ({s.name}): {len(s.configs)} observations{fid}{extra}; objectives from [{pairs}]")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.sources]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> "WarmStart":
        return cls(sources=tuple(WarmSource.from_json(d) for d in data))


def store_path(path: str | Path) -> Path:
    """The store file of a study directory (or the file itself); :class:`ConfigError` if there is none."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / STORE_FILE
    if not p.is_file():
        raise ConfigError(f"warm start: {str(path)!r} is neither a study directory (with {STORE_FILE}) nor a study "
                          "store file; allowed: the --out directory of an earlier nago search, or its study.sqlite")
    return p.resolve()


def map_objectives(source: Sequence[str], target: Sequence[ObjectiveSpec], where: str) -> list[str | None]:
    """Per target objective, the source objective (``"name:dir"``) it takes values from, or ``None``
    (rules in the module docstring)."""
    src = [ObjectiveSpec.parse(s) for s in source]
    by_name = [next((str(s) for s in src if s.name == t.name), None) for t in target]
    if any(m is not None for m in by_name):
        return by_name
    if len(src) == len(target):
        return [str(s) for s in src]
    raise ConfigError(
        f"warm start: {where} has objectives {[str(s) for s in src]}, this study {[str(t) for t in target]}: "
        "none shares a metric name and their numbers differ; allowed: a source with a common objective name, "
        "or the same number of objectives (then mapped by position)"
    )


def check_space(identity: Mapping[str, Any], space: SearchSpace, where: str) -> None:
    """Refuse a source whose searchable parameters are not ``space``'s (names and types)."""
    ranges = identity.get("ranges") or {n: {} for n in identity.get("space", [])}
    mine = {p.name: p.type for p in space.searchable}
    for name in sorted(set(ranges) | set(mine)):
        if name not in mine:
            raise ConfigError(f"warm start: {where} searched parameter {name!r}, which this space "
                              f"({space.name!r}) does not search; allowed: a study over the same parameters "
                              f"({', '.join(mine)})")
        if name not in ranges:
            raise ConfigError(f"warm start: {where} did not search parameter {name!r} of this space "
                              f"({space.name!r}); allowed: a study over the same parameters ({', '.join(mine)})")
        theirs = ranges[name].get("type")
        if theirs is not None and theirs != mine[name]:
            raise ConfigError(f"warm start: parameter {name!r} is {theirs!r} in {where} but {mine[name]!r} here; "
                              "allowed: the same type")


def load_source(path: str | Path, *, space: SearchSpace, objectives: Sequence[ObjectiveSpec]) -> WarmSource:
    """Read one earlier study as a :class:`WarmSource` for a study over ``space`` and ``objectives``.

    Raises:
        ConfigError: no study there, another space, objectives that cannot be mapped, or no usable
            observation.
    """
    from nago.study.storage import TrialStore

    file = store_path(path)
    try:
        store = TrialStore(file)
    except NagoError as e:
        raise ConfigError(f"warm start: {e}") from e
    try:
        identity = store.get_meta("identity") or {}
        name = str(store.get_meta("run_name") or file.parent.name)
        trials = store.trials([TrialState.COMPLETE])
    finally:
        store.close()
    where = f"{file.parent}"
    if not identity:
        raise ConfigError(f"warm start: {file} holds no study (no identity record); allowed: a nago study store")
    check_space(identity, space, where)
    mapping = map_objectives(identity.get("objectives") or [], objectives, where)
    specs = [None if m is None else ObjectiveSpec.parse(m) for m in mapping]
    fids = {t.fidelity for t in trials}
    top = max((f for f in fids if f is not None), default=None)
    configs, rows, dropped = [], [], 0
    for t in trials:
        if t.fidelity != top:
            continue
        row = []
        for s in specs:
            v = float("nan") if s is None else _number(t.metrics.get(s.name))
            row.append(v if s is None or s.maximize else -v)
        if not all(math.isfinite(v) for v, s in zip(row, specs) if s is not None):
            continue
        try:
            config = space.validate({n: t.config[n] for n in space.names if n in t.config})
        except (ConfigError, KeyError):
            dropped += 1
            continue
        configs.append(config)
        rows.append(row)
    if not configs:
        raise ConfigError(f"warm start: {where} has no complete trial with finite {[m for m in mapping if m]} inside "
                          f"this space ({dropped} outside it); allowed: a study with finished trials")
    return WarmSource(path=str(file.parent), name=name, mapping=tuple(mapping), configs=tuple(configs),
                      values=np.asarray(rows, dtype=float), fidelity=top, dropped=dropped)


def load_warm_start(paths: Sequence[str | Path], *, space: SearchSpace, objectives: Sequence[ObjectiveSpec]) -> WarmStart:
    """:func:`load_source` for each path (at least one, each once)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise ConfigError("warm start: no source given; allowed: one or more earlier study directories")
    sources = [load_source(p, space=space, objectives=objectives) for p in paths]
    dup = sorted({s.path for s in sources if sum(o.path == s.path for o in sources) > 1})
    if dup:
        raise ConfigError(f"warm start: source(s) {dup} given twice; allowed: each study once")
    return WarmStart(sources=tuple(sources))


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def resolve_warm_start(
    warm_start: "Sequence[str | Path] | str | Path | WarmStart | None", *, space: SearchSpace,
    objectives: Sequence[ObjectiveSpec], strategy: Any, strategy_name: str, run_dir: Path,
) -> WarmStart | None:
    """What a :class:`~nago.study.study.Study` in ``run_dir`` is warm-started from: ``None`` for none,
    else the sources read (:func:`load_warm_start`) and checked against the study.

    Raises:
        ConfigError: a bad source (see :func:`load_source`), a strategy without warm starts
            (``supports_warm_start``), or the study's own directory among the sources.
    """
    if warm_start is None or (not isinstance(warm_start, WarmStart) and len(warm_start) == 0):
        return None
    warm = warm_start if isinstance(warm_start, WarmStart) else load_warm_start(
        [warm_start] if isinstance(warm_start, (str, Path)) else list(warm_start), space=space, objectives=objectives)
    if not getattr(strategy, "supports_warm_start", False):
        from nago.strategies import WARM_START_STRATEGIES

        raise ConfigError(f"strategy {strategy_name!r} takes no warm start; allowed: one of {', '.join(WARM_START_STRATEGIES)}")
    own = (Path(run_dir) / STORE_FILE).resolve()
    if any(Path(s.path).resolve() / STORE_FILE == own for s in warm.sources):
        raise ConfigError(f"warm start: {run_dir} is this study's own directory; allowed: earlier studies")
    return warm
