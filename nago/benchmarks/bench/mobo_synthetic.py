"""``nago bench mobo-synthetic``: does the search loop find Pareto fronts, and how long does MOBO think?

1. **Search quality.** BoTorch's synthetic two-objective problems run as black boxes through the
   same :class:`~nago.study.study.Study` loop (SQLite store, batch asks with pending trials) as the
   generator search: ``BraninCurrin`` (d = 2) and ``DTLZ2`` (d = 8, 2 objectives), both
   *minimisation* problems (BoTorch's default ``negate=False``), searched as ``f1:min, f2:min`` over a
   space of ``d`` floats in the problem's bounds. The hypervolume reference point is the problem's
   own ``ref_point`` (raw units, minimisation sense: BraninCurrin ``[18, 6]``, DTLZ2 ``[1.1, 1.1]``),
   stored with the study and given to MOBO, so hypervolumes compare across strategies and seeds and
   against the problem's maximum (``max_hv``). Per problem and strategy: mean ± std over seeds of the
   hypervolume after 1/4, 1/2, 3/4 and all of the evaluations, and whether MOBO beats random search
   (higher mean final hypervolume *and* higher in a majority of seeds; seed ``s`` gives both
   strategies the same Sobol initial design, so seeds pair up).
2. **Ask latency.** A :class:`~nago.strategies.mobo.MOBO` built directly on DTLZ2 (d = 8) is told 50
   and 200 complete trials (scrambled Sobol points with their true values) and ``ask(4)`` is timed a
   few times; each ask refits the GPs and optimises qLogNEHVI. Target: median under 10 s on 2 cores.

Threads: ``--threads`` (default 1) calls ``torch.set_num_threads``. GP fits and acquisition
optimisation on a few hundred points are small kernels; on a shared 2-core machine two OpenMP
threads spin-wait on each other and on the other processes and can be ~10x slower than one.
``bohb`` may be listed too: the problems have no fidelity, so it runs with budgets 0.25..1 that the
objective ignores (its promotions re-evaluate a config) and ranks by the equally weighted sum of the
objectives.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
import warnings
from typing import Any, Callable, Mapping

import numpy as np
import torch

from nago.errors import ConfigError

OBJECTIVES = ("f1:min", "f2:min")
ASK_TARGET_S = 10.0
ASK_Q = 4

# name (lower case) -> (display name, factory of the BoTorch test problem). Imported lazily: every
# ``nago`` command imports the bench modules to build its parser.
PROBLEMS: dict[str, tuple[str, Callable[[], Any]]] = {
    "branincurrin": ("BraninCurrin", lambda: _mo().BraninCurrin()),
    "dtlz2": ("DTLZ2", lambda: _mo().DTLZ2(dim=8, num_objectives=2)),
}


def _mo():
    from botorch.test_functions import multi_objective

    return multi_objective


def _names(text: str, allowed: Mapping[str, Any] | list[str], field: str) -> list[str]:
    """Split a comma list and check every name (case-insensitive) against ``allowed``."""
    names = [n.strip().lower() for n in str(text).split(",") if n.strip()]
    known = list(allowed)
    bad = [n for n in names if n not in known]
    if not names or bad:
        raise ConfigError(f"--{field}: got {text!r}; allowed: a comma list of {', '.join(known)}")
    return list(dict.fromkeys(names))


def _positive(args: argparse.Namespace, field: str, minimum: int = 1) -> int:
    value = getattr(args, field)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"--{field.replace('_', '-')}: got {value!r}; allowed: an integer >= {minimum}")
    return value


class Problem:
    """A BoTorch multi-objective test problem as a nago space and objective callable.

    Args:
        name: a key of :data:`PROBLEMS` (case-insensitive).
    """

    def __init__(self, *, name: str) -> None:
        self.key = _names(name, PROBLEMS, "problems")[0]
        self.name, factory = PROBLEMS[self.key]
        self.fn = factory()
        self.dim = int(self.fn.dim)
        self.ref_point = [float(v) for v in self.fn.ref_point]  # raw units, minimisation sense
        self.max_hv = float(self.fn.max_hv)

    def space(self):
        """``d`` floats ``x0..x{d-1}`` in the problem's bounds."""
        from nago.config.space import SearchSpace

        low, high = self.fn.bounds.tolist()
        params = {f"x{i}": {"type": "float", "low": lo, "high": hi} for i, (lo, hi) in enumerate(zip(low, high))}
        return SearchSpace.from_dict({"space": {"name": self.key}, "params": params}, where=f"bench problem {self.name}")

    def evaluate(self, X: torch.Tensor) -> torch.Tensor:
        """``X [n, d]`` in the problem's bounds -> ``Y [n, 2]`` (minimised)."""
        return self.fn.evaluate_true(X.to(torch.float64))

    def __call__(self, config: Mapping[str, Any], *, seed: int, fidelity: float | None) -> dict[str, float]:
        """The Study's objective: noiseless, so ``seed`` and ``fidelity`` are ignored."""
        x = torch.tensor([[float(config[f"x{i}"]) for i in range(self.dim)]], dtype=torch.float64)
        f1, f2 = self.evaluate(x)[0].tolist()
        return {"f1": f1, "f2": f2}


def _study_kwargs(strategy: str, problem: Problem) -> dict[str, Any]:
    # mobo needs no ref_point option: the Study hands its ref_point to the strategy
    if strategy == "bohb":
        return {"fidelity": 1.0, "strategy_options": {"scalarisation": "weighted", "weights": [1.0, 1.0]}}
    return {}


def _checkpoints(evals: int) -> list[int]:
    return sorted({max(1, math.ceil(evals * k / 4)) for k in range(1, 5)})


def run_study(problem: Problem, strategy: str, *, seed: int, evals: int, batch: int) -> dict[str, Any]:
    """One search in a temporary run directory.

    Returns:
        ``hv_history`` (hypervolume after each of the ``evals`` evaluations, trial order), the
        proposal ``sources`` (``{"sobol": 20, "qlognehvi": 20}``), ``failed`` and ``seconds``.
    """
    from nago.analysis.pareto import hypervolume_history
    from nago.study.study import Study
    from nago.study.trial import TrialState

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"nago-bench-{problem.key}-{strategy}-") as tmp:
        study = Study(run_dir=tmp, space=problem.space(), objective=problem, objectives=list(OBJECTIVES),
                      strategy=strategy, seed=seed, batch=batch, ref_point=problem.ref_point,
                      **_study_kwargs(strategy, problem))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                study.optimize(n_trials=evals, progress=False)
            trials = study.trials
            final = study.hypervolume()
        finally:
            study.close()
    Y = np.array([[t.metrics["f1"], t.metrics["f2"]] if t.state == TrialState.COMPLETE else [np.nan, np.nan]
                  for t in trials])
    history = hypervolume_history(Y, maximize=[False, False], ref_point=problem.ref_point)
    sources: dict[str, int] = {}
    for t in trials:
        src = str(t.info.get("source", "?"))
        sources[src] = sources.get(src, 0) + 1
    return {"seed": seed, "hv_history": history.tolist(), "hv": final, "sources": sources,
            "failed": sum(t.state == TrialState.FAILED for t in trials), "seconds": time.perf_counter() - t0,
            "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught})}


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def compare(runs: Mapping[str, list[dict[str, Any]]], a: str = "mobo", b: str = "random") -> dict[str, Any] | None:
    """Paired comparison of final hypervolumes of strategies ``a`` and ``b`` (same seeds)."""
    if a not in runs or b not in runs:
        return None
    ha, hb = [r["hv"] for r in runs[a]], [r["hv"] for r in runs[b]]
    wins = sum(x > y for x, y in zip(ha, hb))
    diff = statistics.fmean(ha) - statistics.fmean(hb)
    return {"a": a, "b": b, "mean_diff": diff, "wins": wins, "seeds": len(ha),
            "beats": bool(diff > 0 and wins > len(ha) / 2)}


def time_asks(problem: Problem, *, observations: list[int], repeats: int, seed: int) -> list[dict[str, Any]]:
    """Median wall time of ``MOBO.ask(4)`` after telling ``n`` complete Sobol trials, per ``n``."""
    from nago.strategies.mobo import MOBO
    from nago.study.trial import ObjectiveSpec, Trial, TrialState

    space = problem.space()
    objectives = [ObjectiveSpec.parse(o) for o in OBJECTIVES]
    low, high = problem.fn.bounds
    out = []
    for n in observations:
        U = torch.quasirandom.SobolEngine(problem.dim, scramble=True, seed=seed).draw(n).to(torch.float64)
        configs = space.from_unit(U)
        X = torch.tensor([[c[f"x{i}"] for i in range(problem.dim)] for c in configs], dtype=torch.float64)
        Y = problem.evaluate(X)
        trials = [Trial(id=i, config=c, seed=i, state=TrialState.COMPLETE, metrics={"f1": y[0], "f2": y[1]})
                  for i, (c, y) in enumerate(zip(configs, Y.tolist()))]
        # n_init=2: the GP path even on a short history (the smoke test's), never the Sobol warm-up
        strategy = MOBO(space=space, objectives=objectives, seed=seed, ref_point=problem.ref_point, n_init=2)
        strategy.tell(trials)
        times, sources = [], set()
        for _ in range(repeats):
            t0 = time.perf_counter()
            proposals = strategy.ask(ASK_Q)
            times.append(time.perf_counter() - t0)
            sources |= {p.info.get("source") for p in proposals}
        out.append({"observations": n, "q": ASK_Q, "d": problem.dim, "seconds": times,
                    "median_s": statistics.median(times), "sources": sorted(map(str, sources)),
                    "ok": statistics.median(times) < ASK_TARGET_S})
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--problems", default="branincurrin,dtlz2", help="comma list of: " + ", ".join(PROBLEMS)
                   + " (default both)")
    p.add_argument("--strategies", default="mobo,random", help="comma list of mobo, random, bohb (default mobo,random)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per problem and strategy (default 5)")
    p.add_argument("--evals", type=int, default=40, help="evaluations per study (default 40)")
    p.add_argument("--batch", type=int, default=4, help="proposals per ask, q (default 4)")
    p.add_argument("--ask-observations", default="50,200",
                   help="comma list of history sizes for the ask timing on DTLZ2 (default 50,200)")
    p.add_argument("--ask-repeats", type=int, default=3, help="timed asks per history size; 0 skips the timing (default 3)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads (default 1: on a shared 2-core machine 2 OpenMP threads can be ~10x slower)")


def run(args: argparse.Namespace) -> dict:
    from nago.strategies import STRATEGIES

    problems = _names(args.problems, PROBLEMS, "problems")
    strategies = _names(args.strategies, STRATEGIES.names(), "strategies")
    seeds, evals, batch = _positive(args, "seeds"), _positive(args, "evals"), _positive(args, "batch")
    threads, repeats = _positive(args, "threads"), _positive(args, "ask_repeats", 0)
    try:
        observations = [int(n) for n in str(args.ask_observations).split(",") if n.strip()]
    except ValueError:
        observations = [0]
    if (repeats and not observations) or any(n < 1 for n in observations):
        raise ConfigError(f"--ask-observations: got {args.ask_observations!r}; allowed: a comma list of integers >= 1")
    torch.set_num_threads(threads)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    results = []
    for key in problems:
        problem = Problem(name=key)
        runs = {s: [run_study(problem, s, seed=seed, evals=evals, batch=batch) for seed in range(seeds)]
                for s in strategies}
        rows = []
        for s, rs in runs.items():
            hv = {str(k): _summary([r["hv_history"][k - 1] for r in rs]) for k in _checkpoints(evals)}
            rows.append({"strategy": s, "hv": hv, "final": _summary([r["hv"] for r in rs]),
                         "study_seconds": statistics.fmean(r["seconds"] for r in rs), "runs": rs})
        results.append({"problem": problem.name, "dim": problem.dim, "ref_point": problem.ref_point,
                        "max_hv": problem.max_hv, "strategies": rows, "mobo_vs_random": compare(runs)})
    search_seconds = time.perf_counter() - t0
    asks = time_asks(Problem(name="dtlz2"), observations=observations, repeats=repeats, seed=0) if repeats else []
    return {"objectives": list(OBJECTIVES), "seeds": seeds, "evals": evals, "batch": batch, "threads": threads,
            "checkpoints": _checkpoints(evals), "problems": results, "ask_timing": asks,
            "ask_target_s": ASK_TARGET_S, "search_seconds": search_seconds,
            "seconds": time.perf_counter() - t0, "load_average": [load_before, os.getloadavg()[0]]}


def format(r: dict) -> str:
    lines = [f"hypervolume (mean ± std over {r['seeds']} seeds; {r['evals']} evaluations, batch q={r['batch']}, "
             f"objectives {', '.join(r['objectives'])}; fixed reference point = the problem's ref_point)"]
    for p in r["problems"]:
        lines.append(f"{p['problem']} (d={p['dim']}, ref {p['ref_point']}, max HV {p['max_hv']:.4g})")
        head = "".join(f"{'@' + str(k):>17}" for k in r["checkpoints"])
        lines.append(f"  {'strategy':<10}{head}{'% of max':>10}{'s/study':>9}  proposals")
        for s in p["strategies"]:
            cells = "".join(f"{v['mean']:>9.4g} ± {v['std']:<5.2g}" for v in s["hv"].values())
            src = ", ".join(f"{k} {v}" for k, v in sorted(_total_sources(s["runs"]).items()))
            lines.append(f"  {s['strategy']:<10}{cells}{100 * s['final']['mean'] / p['max_hv']:>9.1f}%"
                         f"{s['study_seconds']:>9.1f}  {src}")
        c = p["mobo_vs_random"]
        if c is not None:
            lines.append(f"  mobo beats random: {'yes' if c['beats'] else 'no'} (mean final HV {c['mean_diff']:+.4g}, "
                         f"higher in {c['wins']}/{c['seeds']} seeds)")
    if r["ask_timing"]:
        a0 = r["ask_timing"][0]
        lines.append(f"MOBO ask(q={a0['q']}) on DTLZ2 d={a0['d']} (GP fit + qLogNEHVI optimisation), "
                     f"target median < {r['ask_target_s']:g} s:")
        for a in r["ask_timing"]:
            runs = ", ".join(f"{t:.2f}" for t in a["seconds"])
            lines.append(f"  {a['observations']:>4} observations: median {a['median_s']:.2f} s ({runs}) "
                         f"{'ok' if a['ok'] else 'OVER TARGET'}; proposals from {', '.join(a['sources'])}")
    before, after = r["load_average"]
    lines.append(f"total {r['seconds']:.0f} s (searches {r['search_seconds']:.0f} s), {r['threads']} torch thread(s); "
                 f"1-min load average before / after: {before:.2f} / {after:.2f}")
    m = r.get("machine")
    if m:
        lines.append(f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, cuda {m['cuda']}, {m['date']}")
    return "\n".join(lines)


def _total_sources(runs: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for r in runs:
        for k, v in r["sources"].items():
            total[k] = total.get(k, 0) + v
    return total
