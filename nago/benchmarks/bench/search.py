"""``nago bench search SPACE_TOML``: search strategies head to head on a tabular benchmark (NAS-Bench-201).

Every (strategy, seed) run is a real :class:`~nago.study.study.Study` (SQLite store in a temporary
directory, ask -> evaluate -> tell) with a :class:`~nago.objectives.table.TableObjective`, searching the table's
``search`` metrics for ``--queries`` trials. A query is one evaluation, repeats included (as Optuna's
``n_trials`` and NB201's reference REA count): a strategy that re-proposes an architecture pays for it.

Per strategy and query count ``k`` (mean and std over seeds, population std):

- ``best_test``: the first ``report`` metric (e.g. CIFAR-10 test accuracy) of the architecture that is
  best by the first ``search`` metric (e.g. validation accuracy) among the first ``k`` queries;
- ``hv_ratio`` (two or more search metrics): hypervolume of the first ``k`` queries over the search
  metrics divided by that of the whole table (the true Pareto front), both w.r.t. the table's
  ``ref_point`` if its TOML sets one, else the table's nadir (its worst corner). The nadir is the NB201
  convention (objectives min-max normalised over the table, reference at the worst corner; the
  ratio is invariant to that normalisation), and the shipped ``spaces/nb201-*.toml`` use it;
- ``front_share`` (two or more search metrics): the share of the true Pareto front's architectures
  (its rows, counted once per ``dedupe`` group) among the first ``k`` queries; a query counts only when
  its own row is on the front, not when an isomorphic duplicate of a front row is. It separates strategies
  more sharply than the ratio, which a few points near the front's knee already bring close to 1;
- per run: whether the table's best row by the first search metric was queried, distinct rows
  queried, wall seconds; over all runs, how the proposals were made (``info["source"]``: a MOBO
  that fell back to Sobol shows up here).

Multi-fidelity tables (``[table.fidelity]``, e.g. ``spaces/nb201-mo.toml`` with its 12- and 200-epoch
columns): strategies that take ``budgets`` (``bohb``, ``mo-bohb``, ``moasha``) get the table's fidelities
unless ``--set`` gives them; the others query the highest. Every curve counts only queries at the
**highest** fidelity (a 12-epoch accuracy is not a result a user would ship; reports do the same), and
each query costs its ``query_cost`` (the table's training seconds scaled by the fidelity, promotions
paid in full). Besides the query axis every metric is also given against the **cost spent**, in units of
one average full-fidelity query (the table's mean cost at the highest fidelity; 1 per query on a table
without fidelities), at checkpoints and as ``*_cost.png`` plots; ``--cost C`` ends each run once it has
spent ``C`` such units (with ``--queries`` as a cap too).

Warm starts (``--warm-start SOURCE_SPACE``, issue 15): a strategy named ``NAME+warm`` in ``--strategies``
runs ``NAME`` warm-started (:mod:`nago.study.warm_start`) from a source study on ``SOURCE_SPACE`` (a table
space over the same parameters, e.g. ``spaces/nb201.toml`` with its CIFAR-10 metric for a CIFAR-100 target):
per seed ``s`` one ``--warm-source-strategy`` study (options ``--warm-source-set OPTION=V``) of
``--warm-source-queries`` queries with its own seed ``1000 + s``, kept under ``--warm-sources DIR`` (default
``OUT/sources``, reused and resumed by later runs).
``--warm-reverse`` makes the source adversarial: it optimises each of its metrics in the opposite direction,
so its best configs are the worst. ``--set NAME+warm.OPTION=V`` sets an option of the warm runs only.

Every finished run is kept in ``OUT/runs/LABEL-sSEED.json`` and read back by a later invocation with the
same settings, so a stopped benchmark resumes where it was.

``--out DIR`` writes ``results.json``, ``results.md`` (a Markdown table at a few query counts) and PNG
plots. Runs are spread over ``--workers`` processes (spawned; each pins torch to ``--threads``).
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from nago.benchmarks.bench.search_figures import cost_checkpoints, markdown, write_outputs
from nago.benchmarks.bench.warm import SOURCE_SEED, check_labels, label_options, split_label, table_sources
from nago.errors import ConfigError

DEFAULT_STRATEGIES = "random,rea,optuna-tpe,mobo"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("space", help="table space TOML (e.g. spaces/nb201.toml)")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES, help=f"comma-separated strategies (default {DEFAULT_STRATEGIES})")
    p.add_argument("--seeds", type=int, default=10, help="runs per strategy, seeds 0..S-1 (default 10)")
    p.add_argument("--queries", type=int, default=None,
                   help="evaluations per run, repeats included (default 100, or no cap with --cost)")
    p.add_argument("--cost", type=float, default=None,
                   help="end each run after this cost, in average full-fidelity queries (see the docstring)")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="STRATEGY.OPTION=VALUE",
                   help="a strategy option, e.g. rea.population=20 (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    p.add_argument("--out", default=None, help="directory for results.json, results.md, plots and finished runs")
    p.add_argument("--warm-start", default=None, metavar="SOURCE_SPACE",
                   help="table space of the source studies of the NAME+warm strategies (see the docstring)")
    p.add_argument("--warm-source-strategy", default="mobo", help="strategy of the source studies (default mobo)")
    p.add_argument("--warm-source-set", dest="warm_source_options", action="append", default=[], metavar="OPTION=VALUE",
                   help="an option of the source studies' strategy, e.g. features=nb201-paths (repeatable)")
    p.add_argument("--warm-source-queries", type=int, default=100, help="queries per source study (default 100)")
    p.add_argument("--warm-reverse", action="store_true",
                   help="adversarial sources: they optimise their metrics in the opposite direction")
    p.add_argument("--warm-sources", default=None, metavar="DIR",
                   help="where the source studies are kept (default OUT/sources, else a temporary directory)")


@functools.lru_cache(maxsize=4)
def _load(space_path: str):
    from nago.objectives.table import load_table_space

    return load_table_space(space_path)


def parse_options(items: list[str], strategies: list[str]) -> dict[str, dict[str, Any]]:
    """``["rea.population=20"]`` -> ``{"rea": {"population": 20}}``; the strategy must be benchmarked."""
    from nago.config.space import parse_assignments

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        head, sep, _ = item.partition("=")
        name, dot, option = head.rpartition(".")
        if not (sep and dot) or name not in strategies:
            raise ConfigError(f"--set {item!r}: expected STRATEGY.OPTION=VALUE with STRATEGY one of {', '.join(strategies)}")
        out.setdefault(name, {}).update(parse_assignments([f"{option}={item.split('=', 1)[1]}"]))
    return out


def strategy_options(table, strategy: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` plus, for a multi-fidelity strategy on a table with fidelities and no budgets given,
    ``budgets`` = the table's fidelities."""
    from nago.strategies import STRATEGIES

    given = {"budgets", "min_budget", "max_budget"} & set(options)
    if table.fidelity is not None and getattr(STRATEGIES.get(strategy), "multi_fidelity", False) and not given:
        return {**options, "budgets": list(table.fidelity.levels)}
    return dict(options)


def run_one(space_path: str, strategy: str, seed: int, queries: int | None, options: dict[str, Any], threads: int,
            cost: float | None = None, warm: str | None = None, label: str | None = None,
            keep: str | None = None) -> dict[str, Any]:
    """One Study of ``queries`` trials or until ``cost`` (in average full-fidelity queries) is spent,
    warm-started from the study directory ``warm`` if given, reported under ``label`` (default the
    strategy); kept in the JSON file ``keep`` and read from it when it holds a run of the same settings.

    Returns the queried rows in order (-1: failed), whether each was at the highest fidelity, the cost of
    each (same units), how each was proposed and the wall time."""
    import torch

    key = {"space": space_path, "strategy": strategy, "seed": seed, "queries": queries, "cost": cost,
           "options": json.loads(json.dumps(options, default=str)), "warm": warm}
    if keep and Path(keep).is_file():
        kept = json.loads(Path(keep).read_text())
        if kept.get("key") == key:
            return kept["run"]

    from nago.study.study import Study
    from nago.objectives.table import TableObjective

    if threads:
        torch.set_num_threads(threads)
    space, table = _load(space_path)
    unit = table.full_query_cost()
    spent = [0.0]

    def budget(study, trial) -> None:
        spent[0] += float(trial.metrics.get("query_cost", 0.0)) / unit
        if cost is not None and spent[0] >= cost:
            study.stop()

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"nago-bench-search-{strategy}-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = Study(run_dir=tmp, space=space, objective=TableObjective(table=table), objectives=[str(s) for s in table.search],
                      strategy=strategy, strategy_options=strategy_options(table, strategy, options), seed=seed,
                      ref_point=table.ref_point, warm_start=[warm] if warm else None)
        try:
            study.optimize(n_trials=queries, callbacks=[budget], progress=False)
            trials = study.trials
        finally:
            study.close()
    top = table.fidelity.levels[-1] if table.fidelity is not None else None
    rows = [int(t.metrics["table_row"]) if t.state.value == "complete" else -1 for t in trials]
    full = [top is None or t.fidelity is None or abs(float(t.fidelity) - top) < 1e-9 * top for t in trials]
    costs = [float(t.metrics.get("query_cost", 0.0)) / unit for t in trials]
    sources = [str(t.info.get("source", "?")) for t in trials]
    out = {"strategy": label or strategy, "seed": seed, "rows": rows, "full": full, "costs": costs, "sources": sources,
           "seconds": time.perf_counter() - t0}
    if keep:
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        Path(keep).write_text(json.dumps({"key": key, "run": out}))
    return out


def full_rows(rows: list[int], full: list[bool] | None = None) -> list[int]:
    """The queried ``rows`` with those below the highest fidelity (``full[k]`` false) as -1 (a failure)."""
    return list(rows) if full is None else [r if f else -1 for r, f in zip(rows, full)]


def curves(table, rows: list[int], full: list[bool] | None = None) -> dict[str, list[float]]:
    """Per query ``k``: best-so-far search and report values (by the first search metric) and, with
    several search metrics, the hypervolume ratio. Failed queries (row -1) and queries below the highest
    fidelity (``full[k]`` false) change nothing."""
    from nago.analysis.pareto import hypervolume_history

    rows = full_rows(rows, full)
    main = table.search[0]
    report = (table.report or table.search)[0]
    search_col, report_col = table.column(main.name), table.column(report.name)
    best_row, best_s, best_search, best_test = -1, -np.inf, [], []
    for r in rows:
        if r >= 0:
            s = search_col[r] if main.maximize else -search_col[r]
            if s > best_s:
                best_row, best_s = r, s
        best_search.append(float(search_col[best_row]) if best_row >= 0 else float("nan"))
        best_test.append(float(report_col[best_row]) if best_row >= 0 else float("nan"))
    out = {"best_search": best_search, "best_test": best_test}
    if len(table.search) > 1:
        maximize = [s.maximize for s in table.search]
        Y_all = table.search_values()
        ref, total = true_hypervolume(table)
        Y = np.array([Y_all[r] if r >= 0 else [np.nan] * len(maximize) for r in rows])
        out["hv_ratio"] = (hypervolume_history(Y, maximize=maximize, ref_point=ref) / total).tolist()
        on_front, front = true_front(table)
        found: set[int] = set()
        share = []
        for r in rows:
            if r >= 0 and on_front[r]:  # the queried row itself, not an isomorphic duplicate off the front
                found.add(int(table.groups[r]))
            share.append(len(found) / len(front))
        out["front_share"] = share
    return out


@functools.lru_cache(maxsize=4)
def true_front(table) -> tuple[np.ndarray, frozenset[int]]:
    """Which rows are Pareto-optimal over the search metrics (``[n_rows]`` bool) and their dedupe groups.

    A query finds the front when its own row is on it: a ``dedupe`` group (isomorphic cells, trained
    separately, so with other values) can hold rows off the front, and querying one of those finds nothing.
    """
    from nago.analysis.pareto import non_dominated

    mask = np.asarray(non_dominated(table.search_values(), maximize=[s.maximize for s in table.search]), dtype=bool)
    return mask, frozenset(int(g) for g in table.groups[mask])


@functools.lru_cache(maxsize=4)
def true_hypervolume(table) -> tuple[list[float], float]:
    """The reference point (the table's ``ref_point``, else its nadir) and the hypervolume of the whole
    table over the search metrics (computed once per table: the non-dominated sort is O(rows^2))."""
    from nago.analysis.pareto import hypervolume

    maximize = [s.maximize for s in table.search]
    Y_all = table.search_values()
    ref = list(table.ref_point) if table.ref_point is not None else [float(c.min() if m else c.max()) for c, m in zip(Y_all.T, maximize)]
    return ref, hypervolume(Y_all, maximize=maximize, ref_point=ref)


def at_costs(run_costs: list[float], values: list[float], grid: list[float]) -> list[float]:
    """The value of a per-query curve once ``c`` has been spent, for each ``c`` in ``grid``: its value
    after the last query whose cumulative cost is ``<= c`` (NaN before the first query, and beyond the
    run's total cost, where the run did not go)."""
    cum = np.cumsum(run_costs)
    out = []
    for c in grid:
        k = int(np.searchsorted(cum, c + 1e-9, side="right"))  # queries paid for within c
        out.append(float("nan") if k == 0 or c > cum[-1] + 1e-9 else float(values[k - 1]))
    return out


def _mean_std(M: np.ndarray) -> tuple[list[float], list[float]]:
    """Per column mean and population std over the rows; NaN where any row is NaN (a run that did not get
    that far)."""
    return M.mean(axis=0).tolist(), M.std(axis=0).tolist()


def summarise(table, runs: list[dict[str, Any]], queries: int, cost_grid: list[float] | None = None) -> dict[str, Any]:
    """Mean/std over seeds of the curves of one strategy's runs (per query, padded with each run's last
    value when runs differ in length; and per cost on ``cost_grid``), plus per-run facts."""
    per_run = [curves(table, r["rows"], r.get("full")) for r in runs]
    optimum = table.best_row()
    n = max(len(r["rows"]) for r in runs)
    out: dict[str, Any] = {"queries": list(range(1, n + 1))}
    for key in per_run[0]:
        M = np.array([c[key] + [c[key][-1]] * (n - len(c[key])) for c in per_run], dtype=float)
        out[f"{key}_mean"], out[f"{key}_std"] = _mean_std(M)
    if cost_grid is not None:
        out["cost"] = list(cost_grid)
        for key in per_run[0]:
            M = np.array([at_costs(r.get("costs") or [1.0] * len(r["rows"]), c[key], cost_grid) for r, c in zip(runs, per_run)])
            out[f"{key}_cost_mean"], out[f"{key}_cost_std"] = _mean_std(M)
    out["cost_total_mean"] = float(np.mean([sum(r.get("costs") or [1.0] * len(r["rows"])) for r in runs]))
    out["full_queries_mean"] = float(np.mean([sum(r.get("full") or [True] * len(r["rows"])) for r in runs]))
    found = [optimum in full_rows(r["rows"], r.get("full")) for r in runs]  # a 12-epoch look is not a find
    out["optimum_found"] = sum(found)
    out["distinct_mean"] = float(np.mean([len(set(r["rows"]) - {-1}) for r in runs]))
    out["seconds_mean"] = float(np.mean([r["seconds"] for r in runs]))
    sources = [src for r in runs for src in r.get("sources", [])]
    out["sources"] = {src: sources.count(src) for src in sorted(set(sources))}  # how proposals were made (all runs)
    out["runs"] = [{"seed": r["seed"], "found_optimum": f, "distinct": len(set(r["rows"]) - {-1}),
                    "final_best_test": c["best_test"][-1], "seconds": r["seconds"], "costs": r.get("costs"),
                    "full": r.get("full"), **({"hv_ratio": c["hv_ratio"]} if "hv_ratio" in c else {}),
                    "best_test": c["best_test"]} for r, c, f in zip(runs, per_run, found)]
    return out


def run(args: argparse.Namespace) -> dict:
    from nago.strategies import STRATEGIES

    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]  # labels: NAME or NAME+warm
    for s in strategies:
        STRATEGIES.get(split_label(s)[0])  # unknown names fail here, listing the allowed ones
    warm_labels = check_labels(strategies, [split_label(s)[0] for s in strategies], given=bool(args.warm_start),
                               flag="--warm-start SOURCE_SPACE")
    if len(set(strategies)) < len(strategies):
        raise ConfigError(f"--strategies: got {args.strategies!r}; allowed: each label once")
    if args.queries is None and args.cost is None:
        args.queries = 100
    for field in ("seeds", "queries", "workers"):
        if getattr(args, field) is not None and getattr(args, field) < 1:
            raise ConfigError(f"--{field}: got {getattr(args, field)}; allowed: an integer >= 1")
    if args.cost is not None and not args.cost > 0:
        raise ConfigError(f"--cost: got {args.cost}; allowed: a number > 0 (average full-fidelity queries)")
    if args.warm_source_queries < 1:
        raise ConfigError(f"--warm-source-queries: got {args.warm_source_queries}; allowed: an integer >= 1")
    from nago.config.space import parse_assignments

    given = parse_options(args.options, strategies)
    source_options = parse_assignments(args.warm_source_options, flag="--warm-source-set")
    if source_options and not warm_labels:
        raise ConfigError("--warm-source-set: no NAME+warm label to warm-start; allowed: with --warm-start")
    options = label_options(given, strategies)
    space_path = str(Path(args.space).resolve())
    space, table = _load(space_path)
    scratch = None  # warm starts without --out or --warm-sources: the source studies live in a temporary directory
    if warm_labels and not (args.out or args.warm_sources):
        scratch = tempfile.TemporaryDirectory(prefix="nago-bench-search-sources-")
    try:
        warm_dirs = {}
        if warm_labels:
            root = Path(args.warm_sources) if args.warm_sources else (Path(args.out) / "sources" if args.out else Path(scratch.name))
            warm_dirs = table_sources(args.warm_start, space_path, strategy=args.warm_source_strategy, seeds=args.seeds,
                                      queries=args.warm_source_queries, reverse=bool(args.warm_reverse), root=root,
                                      options=source_options,
                                      threads=args.threads, workers=args.workers)
        keep = Path(args.out) / "runs" if args.out else None
        jobs = []
        for s in strategies:
            name, warm = split_label(s)
            jobs += [(space_path, name, seed, args.queries, options[s], args.threads, args.cost, warm_dirs.get(seed) if warm else None,
                      s, str(keep / f"{s}-s{seed}.json") if keep else None) for seed in range(args.seeds)]
        results = _map(run_one, jobs, args.workers)
    finally:
        if scratch is not None:
            scratch.cleanup()
    best = table.best_row()
    max_cost = max(sum(r["costs"]) for r in results)
    grid = np.linspace(0, max_cost, 201)[1:].tolist()
    result = {
        "space": args.space, "seeds": args.seeds, "queries_total": max(len(r["rows"]) for r in results),
        "queries_limit": args.queries, "cost_limit": args.cost, "cost_unit": table.full_query_cost(),
        "cost_checkpoints": cost_checkpoints(max_cost), "options": given,
        "warm_start": None if not warm_labels else {
            "source_space": args.warm_start, "strategy": args.warm_source_strategy, "options": source_options,
            "queries": args.warm_source_queries,
            "reverse": bool(args.warm_reverse), "seeds": [SOURCE_SEED + s for s in range(args.seeds)]},
        "search": [str(s) for s in table.search], "report": (table.report or table.search)[0].name,
        "optimum": {"row": best, "key": table.keys[best], **{k: v for k, v in table.metrics_of(best).items() if k != "table_row"}},
        "strategies": {s: summarise(table, [r for r in results if r["strategy"] == s], args.queries,
                                    sorted(set(grid) | set(cost_checkpoints(max_cost))))
                       for s in strategies},
    }
    if args.out:
        write_outputs(Path(args.out), result)
    return result


def _map(fn, jobs: list[tuple], workers: int) -> list[Any]:
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
            return list(pool.map(fn, *zip(*jobs)))
    return [fn(*job) for job in jobs]


def format(r: dict) -> str:
    m = r["machine"]
    return "\n".join([
        f"space {r['space']}: search {', '.join(r['search'])}; report {r['report']}; {r['seeds']} seeds x {r['queries_total']} queries",
        f"optimum (by {r['search'][0].split(':')[0]}): row {r['optimum']['row']}, {r['report']} {r['optimum'][r['report']]:.2f}",
        markdown(r),
        f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, cuda {m['cuda']}, {m['date']}",
    ])  # fmt: skip
