"""Warm-started labels of the benchmarks (issue 15): ``NAME+warm`` runs strategy ``NAME`` warm-started
(:mod:`nago.study.warm_start`) from earlier studies.

One rule for ``nago bench search`` and ``nago bench generators``: a label with the suffix :data:`WARM`
needs a strategy that takes a warm start (:data:`nago.strategies.WARM_START_STRATEGIES`) and the bench's
``--warm-start``; ``--warm-start`` needs such a label; the warm label runs with ``NAME``'s options, then its
own (``--set NAME+warm.OPTION=V``). Where the sources come from differs: ``bench search`` runs one source
study per seed on a source table (:func:`source_one`), ``bench generators`` takes study directories.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

from nago.errors import ConfigError

WARM = "+warm"  # label suffix of a warm-started strategy
SOURCE_SEED = 1000  # bench search: the source study of seed s has seed SOURCE_SEED + s


def split_label(label: str) -> tuple[str, bool]:
    """``"mobo+warm"`` -> ``("mobo", True)``; ``"mobo"`` -> ``("mobo", False)``."""
    return label.removesuffix(WARM), label.endswith(WARM)


def check_labels(labels: Sequence[str], strategies: Sequence[str], *, given: bool, flag: str = "--warm-start") -> list[str]:
    """The warm labels of ``labels`` (each run by the strategy at the same index of ``strategies``),
    checked against the rule of the module docstring; ``given``: whether ``flag`` was given.

    Raises:
        ConfigError: a warm label of a strategy that takes no warm start, warm labels without ``flag``,
            or ``flag`` without a warm label.
    """
    from nago.strategies import WARM_START_STRATEGIES

    warm = []
    for label, strategy in zip(labels, strategies):
        if split_label(label)[1]:
            if strategy not in WARM_START_STRATEGIES:
                raise ConfigError(f"--strategies: {label!r}: {strategy} takes no warm start; allowed: "
                                  f"{', '.join(WARM_START_STRATEGIES)}")
            warm.append(label)
    if warm and not given:
        raise ConfigError(f"--strategies {','.join(warm)}: warm-started runs need {flag}")
    if given and not warm:
        raise ConfigError(f"{flag}: no NAME{WARM} label to warm-start; allowed: e.g. --strategies mobo,mobo{WARM}")
    return warm


def label_options(options: dict[str, dict[str, Any]], labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per label its options: a warm label's are ``NAME``'s updated with its own."""
    out = {}
    for label in labels:
        name, warm = split_label(label)
        out[label] = {**options.get(name, {}), **options.get(label, {})} if warm else dict(options.get(label, {}))
    return out


def warm_dirs(patterns: Sequence[str], seed: int) -> list[str]:
    """``bench generators``: the ``--warm-start`` directories of seed ``seed`` (``{seed}`` replaced), absolute."""
    return [str(Path(p.replace("{seed}", str(seed))).resolve()) for p in patterns]


def source_one(space_path: str, strategy: str, seed: int, queries: int, reverse: bool, run_dir: str, threads: int,
               options: dict[str, Any] | None = None) -> str:
    """``bench search``: the source study of seed ``seed`` on the table space ``space_path`` (seed
    ``SOURCE_SEED + seed``; each search metric in the opposite direction when ``reverse``; the strategy's
    ``options``), run or resumed up to ``queries`` finished trials in ``run_dir``; returns ``run_dir``."""
    import torch

    from nago.benchmarks.bench.search import _load, strategy_options
    from nago.objectives.table import TableObjective
    from nago.study.study import Study

    if threads:
        torch.set_num_threads(threads)
    space, table = _load(space_path)
    objectives = [f"{o.name}:{'max' if o.maximize != reverse else 'min'}" for o in table.search]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = Study(run_dir=run_dir, space=space, objective=TableObjective(table=table), objectives=objectives,
                      strategy=strategy, strategy_options=strategy_options(table, strategy, options or {}),
                      seed=SOURCE_SEED + seed, resume=True, name=f"source-s{seed}")
        try:
            if len(study._finished()) < queries:
                study.optimize(n_trials=queries, progress=False)
        finally:
            study.close()
    return run_dir


def table_sources(source_space: str, target_space: str, *, strategy: str, seeds: int, queries: int, reverse: bool,
                  root: Path, threads: int, workers: int, options: dict[str, Any] | None = None) -> dict[int, str]:
    """``bench search``: run (or resume) the source study of every seed ``0..seeds-1`` on the table space
    ``source_space`` under ``root`` (:func:`source_one`, ``workers`` at once, the strategy's ``options``;
    each set of options has its own directories); ``{seed: directory}``.

    Raises:
        ConfigError: the source space searches other parameters than ``target_space``, or an unknown strategy.
    """
    from nago.benchmarks.bench.search import _load, _map
    from nago.strategies import STRATEGIES

    source_path = str(Path(source_space).resolve())
    source, _ = _load(source_path)
    target, _ = _load(target_space)
    if source.names != target.names:
        raise ConfigError(f"--warm-start {source_space}: parameters {source.names}, the target's "
                          f"{target.names}; allowed: a table space over the same parameters")
    STRATEGIES.get(strategy)
    opts = "".join(f"-{k}={v}" for k, v in sorted((options or {}).items()))
    tag = f"{Path(source_path).stem}-{strategy}{opts}-q{queries}{'-reversed' if reverse else ''}"
    jobs = [(source_path, strategy, seed, queries, reverse, str(root / f"{tag}-s{seed}"), threads, options)
            for seed in range(seeds)]
    return dict(enumerate(_map(source_one, jobs, workers)))
