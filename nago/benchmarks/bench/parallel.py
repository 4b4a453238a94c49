"""``nago bench parallel``: wall-clock speed-up of parallel trials, at equal trial count and quality.

The NAS-Bench-201 table (``spaces/nb201.toml``) with an artificial per-trial delay stands in for
training: each trial looks its architecture up and then sleeps ``--delay`` seconds, so the timing
is that of the study loop and the executor, not of a table look-up. For each executor (``local``:
a fresh process per trial; ``ray``: Ray tasks on a local instance) and each worker count, the same
seeds run the same number of trials; the report gives the wall time, the speed-up of the most
workers over one, and the mean best test accuracy (by validation) over seeds, which should agree
within noise (an asynchronous study proposes from a different history, so runs are not identical).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nago.errors import ConfigError


class Delayed:
    """``objective`` followed by a sleep of ``seconds`` (picklable)."""

    def __init__(self, objective: Any, seconds: float) -> None:
        self.objective, self.seconds = objective, seconds

    def __call__(self, config, *, seed, fidelity=None):
        out = self.objective(config, seed=seed, fidelity=fidelity)
        time.sleep(self.seconds)
        return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="spaces/nb201.toml", help="a table space (default spaces/nb201.toml)")
    p.add_argument("--executors", default="local,ray", help="comma-separated: local, ray (default local,ray)")
    p.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    p.add_argument("--strategy", default="random", help="search strategy (default random)")
    p.add_argument("--trials", type=int, default=16, help="trials per study (default 16)")
    p.add_argument("--seeds", type=int, default=2, help="studies per setting (default 2)")
    p.add_argument("--delay", type=float, default=2.0, help="artificial seconds per trial (default 2)")


def _one(space, table, objective, executor, strategy: str, seed: int, trials: int) -> dict[str, Any]:
    from nago.study.study import Study

    search, report = table.search[0], (table.report[0] if table.report else table.search[0])
    with tempfile.TemporaryDirectory() as tmp:
        study = Study(run_dir=Path(tmp), space=space, objective=objective, objectives=[str(search)],
                      strategy=strategy, seed=seed)
        t0 = time.perf_counter()
        study.optimize(n_trials=trials, progress=False, executor=executor)
        wall = time.perf_counter() - t0
        done = [t for t in study.trials if t.state.value == "complete"]
        best = (max if search.maximize else min)(done, key=lambda t: t.metrics[search.name])
        result = {"wall_s": wall, "complete": len(done), "best_report": best.metrics[report.name]}
        study.close()
    return result


def run(args: argparse.Namespace) -> dict:
    from nago.study.executors import EXECUTORS
    from nago.objectives.table import TableObjective, load_table_space

    space, table = load_table_space(args.space)
    objective = Delayed(TableObjective(table=table), args.delay)
    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    workers = sorted({int(w) for w in args.workers.split(",")})
    if not workers or workers[0] < 1:
        raise ConfigError(f"--workers: got {args.workers!r}; allowed: comma-separated integers >= 1")
    results: dict[str, Any] = {}
    for name in executors:
        results[name] = {}
        for w in workers:
            kwargs: dict[str, Any] = {"slots": w}
            if name == "local":
                kwargs["threads"] = 1
            if name == "ray":
                kwargs["init_kwargs"] = {"num_cpus": max(workers), "include_dashboard": False}
            runs = []
            with EXECUTORS.get(name)(**kwargs) as ex:
                for seed in range(args.seeds):
                    runs.append(_one(space, table, objective, ex, args.strategy, seed, args.trials))
            results[name][w] = {
                "wall_s": [r["wall_s"] for r in runs],
                "wall_mean_s": statistics.mean(r["wall_s"] for r in runs),
                "complete": [r["complete"] for r in runs],
                "best_report": [r["best_report"] for r in runs],
                "best_report_mean": statistics.mean(r["best_report"] for r in runs),
            }
        base, top = results[name][workers[0]], results[name][workers[-1]]
        results[name]["speedup"] = base["wall_mean_s"] / top["wall_mean_s"]
    return {"space": args.space, "strategy": args.strategy, "trials": args.trials, "seeds": args.seeds,
            "delay_s": args.delay, "workers": workers, "executors": results,
            "report_metric": table.report[0].name if table.report else table.search[0].name}


def format(r: dict) -> str:
    lines = [f"{r['space']}: {r['strategy']}, {r['trials']} trials x {r['seeds']} seeds, {r['delay_s']} s delay per trial; "
             f"quality = mean best {r['report_metric']} (by the search metric)",
             f"  {'executor':<9}{'workers':>8}{'wall s (mean)':>15}{'complete':>10}{'quality':>10}"]
    for name, res in r["executors"].items():
        for w in r["workers"]:
            x = res[w]
            lines.append(f"  {name:<9}{w:>8}{x['wall_mean_s']:>15.1f}{sum(x['complete']):>10}{x['best_report_mean']:>10.2f}")
        lines.append(f"  {name}: speed-up {r['workers'][-1]} workers over {r['workers'][0]}: {res['speedup']:.2f}x")
    m = r["machine"]
    lines.append(f"machine: {m['cpu']}, torch {m['torch']}, cuda {m['cuda']}, {m['date']}")
    return "\n".join(lines)
