"""``nago bench generators RUN_TOML``: generator search strategies head to head with live training.

Every (strategy, seed) run is a real :class:`~nago.study.study.Study` built by
:func:`~nago.study.from_run.study_from_run` from the run file (its data, model, training protocol,
fidelity and objectives), with the strategy replaced, in ``--out DIR/<label>-s<seed>/``. A label is a
strategy name (``mobo``, ``bohb``, ``random``, ``nao``, ``optuna-tpe``, ...) searching the run's own
space, or ``rnag-<strategy>``: that strategy on the flat RandWire-style generator (``--rnag-space``,
default ``rnag.toml`` next to the run's space file, i.e. ``spaces/rnag.toml``), the paper's Table 2
baseline; every other part of the run file stays as it is.

Budget: ``--trials`` counts **trial-equivalents**: epochs trained divided by the run's fidelity
(whole epochs, as the trainer runs them). A single-fidelity strategy runs exactly ``--trials`` trials;
BOHB runs until its low- and full-budget trials add up to the same training. Hypervolumes count only
trials trained at the run's fidelity (a 1-epoch accuracy is not comparable to a 3-epoch one).

Strategy options: the strategy's own defaults, then the bench's (below), then the run file's
``[search.options.<strategy>]``, then ``--set LABEL.OPTION=VALUE``. The bench's defaults make the
comparison fair: ``nao`` ``n_init`` and ``optuna-tpe`` ``n_startup_trials`` equal the run's mobo
``n_init`` when the run file sets one (the same initial design size for every model-based
strategy); ``bohb`` budgets scaled to the run's fidelity ``F`` (see :func:`bohb_budgets`) unless the
run file or ``--set`` gives any of ``min_budget``, ``max_budget``, ``eta``; ``mo-bohb`` and ``moasha``
likewise (:func:`mo_bohb_budgets`) unless ``budgets``, ``min_budget`` or ``max_budget`` are given.

Figures (all runs of one benchmark share **one reference point**: the rule of
:func:`nago.analysis.pareto.reference_point` over the union of every run's full-fidelity
observations, so hypervolumes compare across strategies and seeds):

- per label: the hypervolume after 8, 16, 24, ... trial-equivalents, mean ± std over seeds (population
  std) and per seed; wall-clock seconds per run; the union Pareto front of its seeds;
- one trial's time split into generate / build / profile / train / evaluate (sums over the trial's
  networks), ``other`` (the rest of the trial: runner, store) and ``ask`` (the strategy's proposal and
  bookkeeping between trials), and the share of the run that is not training;
- the final protocol in miniature (unless ``--no-final``): the best trial by the run's first objective
  (validation accuracy) of each label, over all its seeds, re-trained with ``--final-samples``
  networks for ``--final-epochs`` epochs (default the run's ``[train] epochs``), test accuracy and
  memory mean ± std (sample std) over the networks: the small-scale counterpart of the paper's Table 2.

Warm starts (issue 15): a label ``NAME+warm`` runs ``NAME`` warm-started
(:mod:`nago.study.warm_start`) from the earlier studies given with ``--warm-start DIR`` (repeatable;
``{seed}`` in ``DIR`` becomes the run's seed, so each seed can start from its own source, e.g.
``--warm-start out/bench-digits/mobo-s{seed}``). The sources must search the same parameters as the run
file (same names and types). ``--set NAME+warm.OPTION=V`` sets an option of the warm runs only.

Resume: a run directory that holds a finished study is read, not re-run; an unfinished one resumes
(``resume=True``: the store's trials are kept, the strategy is re-told them). A finished final
evaluation is kept in ``DIR/final/<label>.json``. ``DIR`` gets ``results.json``, ``results.md``,
``hv.png`` and ``fronts.png``. Progress goes to stderr. Runs are spread over ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from nago.benchmarks.bench.generators_figures import (TIMING_KEYS, checkpoints, final_summary, markdown, summarise,
                                                      timing, union_reference_point, write_outputs)
from nago.benchmarks.bench.warm import WARM, check_labels, label_options, split_label, warm_dirs
from nago.errors import ConfigError
from nago.study.warm_start import load_warm_start

DEFAULT_STRATEGIES = "mobo,bohb,random,nao,optuna-tpe,rnag-mobo"
RNAG = "rnag-"
FINAL_SEED = 2020  # root seed of the final re-training (its networks differ from the search's)
_EPS = 1e-9


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run TOML (e.g. runs/fashion.toml)")
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help=f"comma-separated labels: strategies, or rnag-STRATEGY for the RNAG space (default {DEFAULT_STRATEGIES})")
    p.add_argument("--seeds", type=int, default=3, help="runs per label, seeds 0..S-1 (default 3)")
    p.add_argument("--trials", type=int, default=24, help="trial-equivalents per run: epochs trained / the run's fidelity (default 24)")
    p.add_argument("--every", type=int, default=8, help="hypervolume checkpoints every N trial-equivalents (default 8)")
    p.add_argument("--workers", type=int, default=1, help="runs at once, one process each (default 1)")
    p.add_argument("--final-samples", type=int, default=3, help="networks per generator in the final re-training (default 3, at least 3)")
    p.add_argument("--final-epochs", type=float, default=None, help="epochs of the final re-training (default the run's [train] epochs)")
    p.add_argument("--no-final", action="store_true", help="skip the final re-training")
    p.add_argument("--out", default=None, help="directory of the runs and results (default <run file dir>/out/bench-<run name>)")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="LABEL.OPTION=VALUE",
                   help="a strategy option of one label, e.g. bohb.min_budget=1 or rnag-mobo.n_init=6 (repeatable)")
    p.add_argument("--data-root", default=None, help="override the run's [data] root")
    p.add_argument("--rnag-space", default=None, help="space of the rnag-* labels (default rnag.toml next to the run's space)")
    p.add_argument("--warm-start", dest="warm_start", action="append", default=[], metavar="DIR",
                   help="an earlier study directory for the NAME+warm labels; {seed} in it is the run's seed (repeatable)")


def say(msg: str) -> None:
    """A progress line on stderr."""
    print(f"[bench generators] {msg}", file=sys.stderr, flush=True)


# -- budgets --------------------------------------------------------------------------------------
def mo_bohb_budgets(fidelity: float) -> dict[str, Any]:
    """``mo-bohb``/``moasha`` rungs for a run whose search trains ``fidelity`` epochs per trial: whole
    epochs ``F/9, F/3, F`` (η = 3) when ``F >= 9``, else ``1, F`` (a 1-epoch screen; one rung below 2)."""
    if fidelity >= 9:
        return {"budgets": [fidelity / 9, fidelity / 3, fidelity]}
    if fidelity >= 2:
        return {"budgets": [1.0, float(fidelity)]}
    return {"budgets": [fidelity / 2, float(fidelity)]}


def bohb_budgets(fidelity: float) -> dict[str, float]:
    """BOHB's budgets for a run whose search trains ``fidelity`` epochs per trial.

    ``F >= 4``: the paper's shape, three budgets ``F/4, F/2, F`` (η = 2; the paper's 30/60/120);
    ``2 <= F < 4``: two budgets, 1 epoch and ``F`` (η = F: the trainer runs whole epochs, so finer
    budgets would round up to the same training); ``F < 2``: one budget (no multi-fidelity).
    """
    if fidelity >= 4:
        return {"max_budget": fidelity, "min_budget": fidelity / 4, "eta": 2}
    if fidelity >= 2:
        return {"max_budget": fidelity, "min_budget": 1.0, "eta": fidelity}
    return {"max_budget": fidelity, "min_budget": fidelity, "eta": 2}


# -- one run ----------------------------------------------------------------------------------------
def parse_labels(text: str) -> list[tuple[str, str]]:
    """``"mobo,rnag-mobo,mobo+warm"`` -> ``[("mobo", "mobo"), ("rnag-mobo", "mobo"), ("mobo+warm", "mobo")]``
    (label, strategy); names checked (``+warm``: :mod:`nago.benchmarks.bench.warm`)."""
    from nago.strategies import STRATEGIES

    labels = [s.strip() for s in text.split(",") if s.strip()]
    if not labels:
        raise ConfigError(f"--strategies: got {text!r}; allowed: comma-separated strategy names or rnag-STRATEGY")
    if len(set(labels)) < len(labels):
        raise ConfigError(f"--strategies: got {text!r}; allowed: each label once")
    out = []
    for label in labels:
        name = split_label(label)[0]
        strategy = name[len(RNAG):] if name.startswith(RNAG) else name
        if strategy not in STRATEGIES.names():
            raise ConfigError(f"--strategies: got {label!r}; allowed: {', '.join(STRATEGIES.names())}, "
                              f"or rnag-STRATEGY for the RNAG space, each optionally NAME{WARM}")
        out.append((label, strategy))
    return out


def run_config(run_path: str, label: str, strategy: str, options: dict[str, Any], rnag_space: str | None):
    """The run file as label ``label`` searches it: the RNAG space for ``rnag-*`` labels, the strategy and
    its options (see the module docstring) set.

    Returns:
        The :class:`~nago.config.run.RunConfig` and the strategy's options.
    """
    from nago.config.run import RunConfig
    from nago.config.space import read_toml
    from nago.strategies import STRATEGIES
    from nago.training.config import TrainConfig

    path = Path(run_path)
    raw = read_toml(path)
    where = str(path)
    if label.startswith(RNAG):
        raw.setdefault("run", {})["space"] = str(Path(str(rnag_space)).resolve())  # relative: to the working directory
        where = f"{path} with [run] space = {rnag_space}"
    rc = RunConfig.from_dict(raw, base=path.resolve().parent, where=where, source=path.resolve())
    fidelity = rc.search.fidelity if rc.search.fidelity is not None else TrainConfig.from_dict(rc.train).epochs
    own = rc.search.options_for(strategy, known=STRATEGIES.names())
    mobo_init = rc.search.options.get("mobo", {}).get("n_init") if not rc.search.options_flat else None
    bench: dict[str, Any] = {}
    if strategy == "bohb" and fidelity and not {"min_budget", "max_budget", "eta"} & (set(own) | set(options)):
        bench = bohb_budgets(fidelity)
    elif strategy in ("mo-bohb", "moasha") and fidelity and not {"budgets", "min_budget", "max_budget"} & (set(own) | set(options)):
        bench = mo_bohb_budgets(fidelity)
    elif strategy in ("nao", "nao-cso") and mobo_init is not None:
        bench = {"n_init": max(2, int(mobo_init))}
    elif strategy == "optuna-tpe" and mobo_init is not None:
        bench = {"n_startup_trials": int(mobo_init)}
    merged = {**bench, **own, **options}
    search = dataclasses.replace(rc.search, strategy=strategy, options={strategy: merged}, options_flat=False)
    return dataclasses.replace(rc, search=search), merged


def _cost(trial, fidelity: float) -> float:
    return math.ceil((trial.fidelity or fidelity) - _EPS) / math.ceil(fidelity - _EPS)


def _spent(trials, fidelity: float) -> float:
    return sum(_cost(t, fidelity) for t in trials if t.state.value in ("complete", "failed"))


def run_one(run_path: str, label: str, strategy: str, seed: int, trials: int, options: dict[str, Any],
            rnag_space: str | None, data_root: str | None, out: str, warm: list[str] | None = None) -> dict[str, Any]:
    """One (label, seed) study in ``out``: started, resumed, or read when finished, warm-started from the
    study directories ``warm`` if given. Returns its trials."""
    from nago.study.from_run import study_from_run

    start = time.perf_counter()
    run_dir = Path(out)
    bench_file = run_dir / "bench.json"
    rc, merged = run_config(run_path, label, strategy, options, rnag_space)
    merged = json.loads(json.dumps(merged))
    state = json.loads(bench_file.read_text()) if bench_file.is_file() else {"seconds": 0.0, "options": merged}
    if state.get("options") != merged:
        raise ConfigError(f"--set / [search.options.{strategy}]: {run_dir} was run with {label} options "
                          f"{state.get('options')}, now {merged}; allowed: the same options to resume it, or another --out")
    name = f"{label}-s{seed}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fallbacks show up in the proposals' sources
        study = study_from_run(rc, out=run_dir, strategy=strategy, seed=seed, resume=True, data_root=data_root,
                               warm_start=warm or None)
        try:
            fidelity = float(study.fidelity)
            previous, ran = float(state["seconds"]), False

            def note(st, trial) -> None:
                state["seconds"] = previous + time.perf_counter() - start
                bench_file.write_text(json.dumps(state))
                done = _spent(st.trials, fidelity)
                vals = " ".join(f"{o.name} {trial.metrics[o.name]:.4g}" for o in st.objectives if o.name in trial.metrics)
                say(f"{name}: {done:.4g}/{trials} trial #{trial.id} {trial.state.value} at {trial.fidelity or fidelity:g} epochs "
                    f"{vals or trial.fail_kind or ''} ({trial.duration or 0:.1f} s)")

            spent = _spent(study.trials, fidelity)
            if spent < trials - _EPS:
                say(f"{name}: " + (f"resuming at {spent:.4g}" if spent else "starting") + f" ({trials} trial-equivalents)")
            while spent < trials - _EPS:
                finished = sum(t.state.value in ("complete", "failed") for t in study.trials)
                more = max(1, int(math.floor(trials - spent + _EPS)))
                study.optimize(n_trials=finished + more, progress=False, callbacks=[note])
                ran = True
                if sum(t.state.value in ("complete", "failed") for t in study.trials) == finished:
                    say(f"{name}: the strategy has nothing left to propose; stopping at {spent:.4g} trial-equivalents")
                    break
                spent = _spent(study.trials, fidelity)
            if ran:
                state["seconds"] = previous + time.perf_counter() - start
                bench_file.write_text(json.dumps(state))
            objectives = [str(o) for o in study.objectives]
            records = []
            for t in study.trials:
                if t.state.value not in ("complete", "failed"):
                    continue
                full = t.state.value == "complete" and (t.fidelity or fidelity) >= fidelity - _EPS
                vals = [float(t.metrics.get(o.name, math.nan)) for o in study.objectives] if full else None
                timing = {k: float(sum(s.get(k, 0.0) for s in t.sample_metrics)) for k in TIMING_KEYS}
                records.append({"id": t.id, "state": t.state.value, "fidelity": t.fidelity or fidelity,
                                "cost": _cost(t, fidelity), "values": vals, "config": t.config,
                                "duration": float(t.duration or 0.0), "timing": timing,
                                "source": str(t.info.get("source", "?"))})
        finally:
            study.close()
    return {"label": label, "strategy": strategy, "seed": seed, "dir": str(run_dir), "fidelity": fidelity,
            "objectives": objectives, "seconds": float(state["seconds"]), "trials": records}


def final_one(run_path: str, label: str, strategy: str, rnag_space: str | None, data_root: str | None,
              config: dict[str, Any], samples: int, epochs: float, out_file: str) -> dict[str, Any]:
    """Re-train ``config`` with ``samples`` networks for ``epochs`` epochs and evaluate val and test
    (kept in ``out_file``; a kept result of the same config, samples and epochs is read, not redone)."""
    from nago.config.run import build_objective
    from nago.errors import EvalFailure

    key = {"config": json.loads(json.dumps(config)), "samples": samples, "epochs": epochs, "seed": FINAL_SEED}
    path = Path(out_file)
    if path.is_file():
        kept = json.loads(path.read_text())
        if {k: kept.get(k) for k in key} == key:
            return kept
    rc, _ = run_config(run_path, label, strategy, {}, rnag_space)
    objective = build_objective(rc, data_root=data_root, samples=samples, progress=False, evaluate_test=True)
    say(f"final {label}: {samples} networks x {epochs:g} epochs of its best generator")
    t0 = time.perf_counter()
    result: dict[str, Any] = {"label": label, **key, "searched": [q.name for q in rc.space.searchable]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = objective(rc.space.validate(config), seed=FINAL_SEED, fidelity=epochs)
        for k in ("test_acc", "val_acc", "memory_mb", "params", "flops", "train_seconds"):
            result[k] = [float(s[k]) for s in ev.sample_metrics if k in s]
    except EvalFailure as e:
        result["failed"] = f"{e.kind}: {e.message}"
    result["seconds"] = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    say(f"final {label}: " + (f"test_acc {np.mean(result['test_acc']):.4f}" if "test_acc" in result else result.get("failed", ""))
        + f" ({result['seconds']:.0f} s)")
    return result


# -- the benchmark ----------------------------------------------------------------------------------
def _pool_map(fn, jobs: list[tuple], workers: int, describe) -> list[Any]:
    """``fn(*job)`` for each job, in ``workers`` spawned processes when ``workers > 1``; results in job order."""
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for i, job in enumerate(jobs):
            results.append(fn(*job))
            say(f"[{i + 1}/{len(jobs)}] {describe(job, results[-1])}")
        return results
    out: list[Any] = [None] * len(jobs)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for n, fut in enumerate(as_completed(futures), 1):
            i = futures[fut]
            out[i] = fut.result()
            say(f"[{n}/{len(jobs)}] {describe(jobs[i], out[i])}")
    return out


def run(args: argparse.Namespace) -> dict:
    from nago.benchmarks.bench.search import parse_options
    from nago.config.run import RunConfig
    from nago.strategies import STRATEGIES
    from nago.study.trial import parse_objectives
    from nago.training.config import TrainConfig

    for field in ("seeds", "trials", "every", "workers"):
        if getattr(args, field) < 1:
            raise ConfigError(f"--{field}: got {getattr(args, field)}; allowed: an integer >= 1")
    if args.final_samples < 3:
        raise ConfigError(f"--final-samples: got {args.final_samples}; allowed: an integer >= 3 (networks per generator)")
    if args.final_epochs is not None and not args.final_epochs > 0:
        raise ConfigError(f"--final-epochs: got {args.final_epochs}; allowed: a number of epochs > 0")
    labels = parse_labels(args.strategies)
    names = [label for label, _ in labels]
    options = label_options(parse_options(args.options, names), names)
    warm_labels = check_labels(names, [strategy for _, strategy in labels], given=bool(args.warm_start),
                               flag="--warm-start DIR")
    run_path = str(Path(args.run).resolve())
    base = RunConfig.from_toml(args.run)
    if base.space.is_table:
        raise ConfigError(f"{args.run}: a table space run ([run] space {base.space.source}); allowed: a network run "
                          "file (nago bench search compares strategies on tables)")
    rnag_space = Path(args.rnag_space) if args.rnag_space else Path(base.space.source or ".").parent / "rnag.toml"
    if any(label.startswith(RNAG) for label, _ in labels) and not rnag_space.is_file():
        raise ConfigError(f"--rnag-space: got {str(rnag_space)!r}, which is not a file; allowed: a space TOML "
                          "(the shipped one is spaces/rnag.toml)")
    rnag = str(rnag_space.resolve())
    out = Path(args.out) if args.out else Path(run_path).parent / "out" / f"bench-{base.name}"
    objectives = parse_objectives(list(base.search.objectives))
    maximize = [o.maximize for o in objectives]
    train = TrainConfig.from_dict(base.train)
    fidelity = float(base.search.fidelity if base.search.fidelity is not None else train.epochs)
    merged = {}
    for label, strategy in labels:  # options and warm-start sources checked before any run starts
        rc, merged[label] = run_config(run_path, label, strategy, options.get(label, {}), rnag)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            STRATEGIES.get(strategy)(space=rc.space, objectives=objectives, seed=0, fidelity=fidelity, **merged[label])
        for seed in range(args.seeds) if split_label(label)[1] else ():
            load_warm_start(warm_dirs(args.warm_start, seed), space=rc.space, objectives=objectives)
    jobs = [(run_path, label, strategy, seed, args.trials, options.get(label, {}), rnag, args.data_root,
             str(out / f"{label}-s{seed}"), warm_dirs(args.warm_start, seed) if split_label(label)[1] else None)
            for seed in range(args.seeds) for label, strategy in labels]
    say(f"{len(jobs)} runs of {args.trials} trial-equivalents ({', '.join(l for l, _ in labels)} x {args.seeds} seeds) "
        f"into {out}, {args.workers} worker(s)")
    runs = _pool_map(run_one, jobs, args.workers,
                     lambda job, r: f"{job[1]}-s{job[3]}: {len(r['trials'])} trials, {r['seconds']:.0f} s")
    ref = union_reference_point(runs, maximize)
    result: dict[str, Any] = {
        "run": args.run, "name": base.name, "dataset": base.data.dataset, "objectives": [str(o) for o in objectives],
        "fidelity": fidelity, "seeds": args.seeds, "trials": args.trials,
        "checkpoints": checkpoints(args.trials, args.every), "ref_point": ref, "out": str(out),
        "rnag_space": rnag if any(label.startswith(RNAG) for label, _ in labels) else None,
        "warm_start": list(args.warm_start) if warm_labels else None,
        "labels": {label: {**summarise([r for r in runs if r["label"] == label], trials=args.trials, every=args.every,
                                       maximize=maximize, ref_point=ref), "options": merged[label]}
                   for label, _ in labels},
    }
    result["timing"] = timing(runs)
    result["final"] = None
    if not args.no_final:
        epochs = args.final_epochs if args.final_epochs is not None else train.epochs
        todo = [(label, strategy) for label, strategy in labels if result["labels"][label]["best"] is not None]
        fjobs = [(run_path, label, strategy, rnag, args.data_root, result["labels"][label]["best"]["config"],
                  args.final_samples, float(epochs), str(out / "final" / f"{label}.json")) for label, strategy in todo]
        finals = _pool_map(final_one, fjobs, args.workers, lambda job, r: f"final {job[1]} ({r.get('seconds', 0):.0f} s)")
        result["final"] = {job[1]: {**final_summary(r), "search_values": result["labels"][job[1]]["best"]["values"]}
                           for job, r in zip(fjobs, finals)}
    write_outputs(out, result)
    return result


def format(r: dict[str, Any]) -> str:
    m = r["machine"]
    return "\n".join([
        f"run {r['run']} ({r['dataset']}): {r['seeds']} seeds x {r['trials']} trial-equivalents at {r['fidelity']:g} epochs; "
        f"objectives {', '.join(r['objectives'])}",
        f"one reference point for every run: {r['ref_point']} (out: {r['out']})",
        *([f"+warm labels warm-started from {', '.join(r['warm_start'])}"] if r.get("warm_start") else []),
        markdown(r),
        f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, cuda {m['cuda']}, {m['date']}",
    ])  # fmt: skip
