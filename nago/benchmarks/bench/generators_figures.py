"""Figures of ``nago bench generators`` (:mod:`nago.benchmarks.bench.generators`): hypervolume at budgets,
the one reference point of a benchmark, per-label summaries, the time split of a trial, and the
Markdown tables and plots. Works on the plain records :func:`~nago.benchmarks.bench.generators.run_one`
returns (no store, no torch), so it is testable on hand-made numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

_EPS = 1e-9
TIMING_KEYS = ("generate_seconds", "build_seconds", "profile_seconds", "train_seconds", "evaluate_seconds")
"""The parts of a trial's time that :class:`~nago.objectives.network.TrainObjective` measures per network."""


# -- hypervolume ------------------------------------------------------------------------------------
def checkpoints(trials: int, every: int = 8) -> list[int]:
    """``[every, 2 * every, ..., trials]`` (``trials`` itself always last)."""
    return sorted({k for k in range(every, trials, every)} | {trials})


def hv_at(values: Any, costs: Sequence[float], *, maximize: Sequence[bool], ref_point: Sequence[float],
          at: Sequence[float]) -> list[float]:
    """Hypervolume of the trials done within each budget of ``at``.

    Args:
        values: ``[n, m]`` objective values of the trials in the order they ran, raw units; a row with
            a NaN (a failed trial, or one below the run's fidelity) adds nothing.
        costs: ``[n]`` cost of each trial in trial-equivalents (1 for a full-fidelity trial).
        maximize: ``[m]`` directions.
        ref_point: ``[m]`` reference point, raw units.
        at: budgets in trial-equivalents; the trials counted at budget ``c`` are the first ``k`` whose
            cumulative cost is at most ``c``.

    Returns:
        One hypervolume per budget of ``at`` (0 before any trial counts).
    """
    from nago.analysis.pareto import hypervolume_history

    Y = np.asarray(values, dtype=np.float64).reshape(len(costs), len(maximize))
    if len(Y) == 0:
        return [0.0 for _ in at]
    history = hypervolume_history(Y, maximize=maximize, ref_point=ref_point)
    done = np.cumsum(np.asarray(costs, dtype=np.float64))
    out = []
    for c in at:
        k = int(np.searchsorted(done, float(c) + _EPS, side="right"))
        out.append(float(history[k - 1]) if k > 0 else 0.0)
    return out


# -- summaries --------------------------------------------------------------------------------------
def _mean_std(values: Sequence[float], ddof: int = 0) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=ddof)) if a.size > ddof else 0.0


def _values(run: dict[str, Any], m: int) -> np.ndarray:
    return np.array([r["values"] if r["values"] is not None else [math.nan] * m for r in run["trials"]],
                    dtype=float).reshape(len(run["trials"]), m)


def union_reference_point(runs: Sequence[dict[str, Any]], maximize: Sequence[bool]) -> list[float] | None:
    """The benchmark's one reference point: :func:`~nago.analysis.pareto.reference_point` over every
    run's full-fidelity observations (``None`` when there is none)."""
    from nago.analysis.pareto import reference_point

    Y = np.concatenate([_values(r, len(maximize)) for r in runs]) if runs else np.zeros((0, len(maximize)))
    Y = Y[np.isfinite(Y).all(axis=1)]
    return [float(v) for v in reference_point(Y, maximize=maximize)] if len(Y) else None


def timing(runs: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds per trial of each part of :data:`TIMING_KEYS` (summed over a trial's networks), ``other``
    (the rest of a trial's duration: runner, store), ``ask`` (the rest of the run's wall time: the strategy's
    proposals, the store, opening the study and loading the data) and the shares that are not training:
    ``not_training_trial`` (of the trials' durations) and ``not_training_run`` (of the runs' wall time)."""
    recs = [t for r in runs for t in r["trials"]]
    n = max(1, len(recs))
    out = {k.removesuffix("_seconds"): sum(t["timing"][k] for t in recs) / n for k in TIMING_KEYS}
    duration = sum(t["duration"] for t in recs)
    out["other"] = max(0.0, duration / n - sum(out[k.removesuffix("_seconds")] for k in TIMING_KEYS))
    seconds = sum(r["seconds"] for r in runs)
    out["ask"] = max(0.0, (seconds - duration) / n)
    train = sum(t["timing"]["train_seconds"] for t in recs)
    out["not_training_trial"] = 1 - train / duration if duration > 0 else math.nan
    out["not_training_run"] = 1 - train / seconds if seconds > 0 else math.nan
    out["trials"] = len(recs)
    return out


def summarise(runs: Sequence[dict[str, Any]], *, trials: int, every: int, maximize: Sequence[bool],
              ref_point: list[float] | None) -> dict[str, Any]:
    """One label's figures from its runs (all seeds)."""
    from nago.analysis.pareto import non_dominated

    m, at = len(maximize), checkpoints(trials, every)
    out: dict[str, Any] = {"strategy": runs[0]["strategy"], "checkpoints": at}
    per_run = []
    for r in sorted(runs, key=lambda r: r["seed"]):
        Y, costs = _values(r, m), [t["cost"] for t in r["trials"]]
        curve = hv_at(Y, costs, maximize=maximize, ref_point=ref_point, at=range(1, trials + 1)) if ref_point else [0.0] * trials
        per_run.append({"seed": r["seed"], "dir": r["dir"], "seconds": r["seconds"], "hv": [curve[c - 1] for c in at],
                        "curve": curve, "trials": len(r["trials"]), "spent": float(sum(costs)),
                        "full_fidelity": int(np.isfinite(Y).all(axis=1).sum()),
                        "failed": sum(t["state"] == "failed" for t in r["trials"])})
    H = np.array([p["hv"] for p in per_run])
    C = np.array([p["curve"] for p in per_run])
    out["hv_mean"], out["hv_std"] = H.mean(axis=0).tolist(), H.std(axis=0).tolist()
    out["curve_mean"], out["curve_std"] = C.mean(axis=0).tolist(), C.std(axis=0).tolist()
    out["seconds_mean"], out["seconds_std"] = _mean_std([p["seconds"] for p in per_run])
    out["runs"] = [{k: v for k, v in p.items() if k != "curve"} for p in per_run]
    points = [(t["values"], t["config"], r["seed"]) for r in runs for t in r["trials"]
              if t["values"] is not None and all(math.isfinite(v) for v in t["values"])]
    if points:
        Y = np.array([p[0] for p in points])
        mask = non_dominated(Y, maximize=maximize)
        out["observed"] = Y.tolist()
        out["front"] = sorted(({"values": p[0], "config": p[1], "seed": p[2]} for p, keep in zip(points, mask) if keep),
                              key=lambda f: f["values"][0])
        best = (max if maximize[0] else min)(points, key=lambda p: p[0][0])
        out["best"] = {"values": best[0], "config": best[1], "seed": best[2]}
    else:
        out["observed"], out["front"], out["best"] = [], [], None
    sources = [t["source"] for r in runs for t in r["trials"]]
    out["sources"] = {s: sources.count(s) for s in sorted(set(sources))}
    out["timing"] = timing(runs)
    return out


def final_summary(res: dict[str, Any]) -> dict[str, Any]:
    """Mean ± std (sample std over the networks) of a final re-training's metrics."""
    out = {k: res[k] for k in ("config", "searched", "samples", "epochs") if k in res}
    if "failed" in res:
        return {**out, "failed": res["failed"]}
    for k in ("test_acc", "val_acc", "memory_mb", "params", "flops", "train_seconds"):
        if res.get(k):
            out[f"{k}_mean"], out[f"{k}_std"] = _mean_std(res[k], ddof=1)
    out["test_acc"], out["seconds"] = res.get("test_acc"), res.get("seconds")
    return out


# -- output -----------------------------------------------------------------------------------------
def _pm(mean: float, std: float, fmt: str = ".4g") -> str:
    return "n/a" if not math.isfinite(mean) else f"{mean:{fmt}} ± {std:{fmt}}"


def _short(config: dict[str, Any], names: Sequence[str] | None = None) -> str:
    """``N_t=3 P_t=0.5 ...``: the searched parameters of a config (all of them when ``names`` is None)."""
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items()
                    if names is None or k in names)


def markdown(r: dict[str, Any]) -> str:
    """The figures as Markdown tables: hypervolume, final re-training, time split."""
    at = r["checkpoints"]
    head = ["label"] + [f"HV @{c}" for c in at] + [f"HV @{at[-1]} per seed", "s/run", "full-fidelity trials"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, s in r["labels"].items():
        cells = [label] + [_pm(m, sd) for m, sd in zip(s["hv_mean"], s["hv_std"])]
        cells += [", ".join(f"{p['hv'][-1]:.4g}" for p in s["runs"]), _pm(s["seconds_mean"], s["seconds_std"], ".0f"),
                  ", ".join(str(p["full_fidelity"]) for p in s["runs"])]
        lines.append("| " + " | ".join(cells) + " |")
    if r.get("final"):
        obj = r["objectives"][0].split(":")[0]
        head = ["label", f"search {obj}", "test_acc", "memory_mb", "params", "val_acc", "generator"]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for label, f in r["final"].items():
            if "failed" in f:
                lines.append(f"| {label} | {f['search_values'][0]:.4f} | failed: {f['failed']} | | | | {_short(f['config'], f.get('searched'))} |")
                continue
            lines.append("| " + " | ".join([
                label, f"{f['search_values'][0]:.4f}", _pm(f["test_acc_mean"], f["test_acc_std"], ".4f"),
                _pm(f["memory_mb_mean"], f["memory_mb_std"], ".3g"), f"{f['params_mean']:.3g}",
                _pm(f["val_acc_mean"], f["val_acc_std"], ".4f"), _short(f["config"], f.get("searched"))]) + " |")
    parts = ("generate", "build", "profile", "train", "evaluate", "other", "ask")
    head = ["label"] + [f"{p} s" for p in parts] + ["not training (trial)", "not training (run)"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, t in [*((k, v["timing"]) for k, v in r["labels"].items()), ("all", r["timing"])]:
        lines.append("| " + " | ".join([label] + [f"{t[p]:.3g}" for p in parts]
                                       + [f"{100 * t['not_training_trial']:.1f} %", f"{100 * t['not_training_run']:.1f} %"]) + " |")
    return "\n".join(lines)


def write_outputs(out: Path, r: dict[str, Any]) -> None:
    """``results.json``, ``results.md``, ``hv.png`` (hypervolume against trial-equivalents, mean ± std) and
    ``fronts.png`` (every label's observations and union Pareto front, first two objectives) into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(r, indent=1, default=str))
    (out / "results.md").write_text(f"`nago bench generators {r['run']}`: {r['seeds']} seeds x {r['trials']} trial-equivalents "
                                    f"at {r['fidelity']:g} epochs; objectives {', '.join(r['objectives'])}; "
                                    f"reference point {r['ref_point']}\n\n{markdown(r)}\n")
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, s in r["labels"].items():
        k, m, sd = np.arange(1, r["trials"] + 1), np.array(s["curve_mean"]), np.array(s["curve_std"])
        ax.plot(k, m, label=label)
        ax.fill_between(k, m - sd, m + sd, alpha=0.15)
    ax.set_xlabel(f"trials (epochs trained / {r['fidelity']:g})"), ax.set_ylabel("hypervolume"), ax.grid(alpha=0.3)
    ax.legend(), ax.set_title(f"{r['name']}: mean ± std over {r['seeds']} seeds, one reference point")
    fig.tight_layout()
    fig.savefig(out / "hv.png")
    plt.close(fig)
    if len(r["objectives"]) >= 2:
        (ny, dy), (nx, dx) = (o.split(":") for o in r["objectives"][:2])
        fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
        for i, (label, s) in enumerate(r["labels"].items()):
            color = f"C{i}"
            if s["observed"]:
                Y = np.array(s["observed"])
                ax.scatter(Y[:, 1], Y[:, 0], s=8, alpha=0.25, color=color)
            if s["front"]:
                F = np.array(sorted((f["values"] for f in s["front"]), key=lambda v: v[1]))
                ax.plot(F[:, 1], F[:, 0], marker="o", ms=4, color=color, drawstyle="steps-post", label=label)
        ax.set_xlabel(f"{nx} ({dx})"), ax.set_ylabel(f"{ny} ({dy})"), ax.grid(alpha=0.3), ax.legend()
        ax.set_title(f"{r['name']}: union Pareto front of each label ({r['seeds']} seeds)")
        fig.tight_layout()
        fig.savefig(out / "fronts.png")
        plt.close(fig)
