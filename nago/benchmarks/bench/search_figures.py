"""Figures of ``nago bench search`` (:mod:`nago.benchmarks.bench.search`): checkpoints, the Markdown
tables and the PNG plots written next to ``results.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def checkpoints(queries: int) -> list[int]:
    return sorted({q for q in (10, 25, 50, 100, 200, 500) if q < queries} | {queries})


def cost_checkpoints(max_cost: float) -> list[float]:
    """Cost checkpoints (average full-fidelity queries) up to ``max_cost``."""
    return [float(c) for c in (10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500) if c <= max_cost + 1e-9]


def _cost_value(s: dict, key: str, c: float) -> float:
    return s[f"{key}_cost_mean"][s["cost"].index(c)]


def markdown(r: dict) -> str:
    """The figures as a Markdown table: best test (mean ± std) at each checkpoint, HV ratio, optimum hits."""
    qs = checkpoints(r["queries_total"])
    mo = len(r["search"]) > 1
    head = ["strategy"] + [f"{r['report']} @{q}" for q in qs]
    head += [f"HV ratio @{q}" for q in qs] + [f"front found @{q}" for q in qs] if mo else []
    head += [f"optimum queried (of {r['seeds']})", "distinct", "s/run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in r["strategies"].items():
        has = [q <= len(s["queries"]) for q in qs]  # '-': this strategy's runs stopped earlier (a cost limit)
        cells = [name] + [f"{s['best_test_mean'][q - 1]:.2f} ± {s['best_test_std'][q - 1]:.2f}" if h else "-" for q, h in zip(qs, has)]
        if mo:
            cells += [f"{s['hv_ratio_mean'][q - 1]:.4f}" if h else "-" for q, h in zip(qs, has)]
            cells += [f"{100 * s['front_share_mean'][q - 1]:.0f} %" if h else "-" for q, h in zip(qs, has)]
        cells += [str(s["optimum_found"]), f"{s['distinct_mean']:.1f}", f"{s['seconds_mean']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    cs = r.get("cost_checkpoints") or []
    if not cs:
        return "\n".join(lines)
    key = "hv_ratio" if mo else "best_test"
    label = "HV ratio" if mo else r["report"]
    head = ["strategy", "cost spent", "full-fidelity queries"] + [f"{label} @cost {c:g}" for c in cs]
    head += [f"{r['report']} @cost {c:g}" for c in cs] if mo else []
    lines += ["", f"Against the cost spent (units: one average full-fidelity query = {r['cost_unit']:.4g} of the "
              "table's cost; '-' = not every seed got that far):", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fmt = (lambda v: "-" if v != v else f"{v:.4f}") if mo else (lambda v: "-" if v != v else f"{v:.2f}")
    for name, s in r["strategies"].items():
        cells = [name, f"{s['cost_total_mean']:.1f}", f"{s['full_queries_mean']:.1f}"]
        cells += [fmt(_cost_value(s, key, c)) for c in cs]
        if mo:
            cells += ["-" if (v := _cost_value(s, "best_test", c)) != v else f"{v:.2f}" for c in cs]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(out: Path, r: dict) -> None:
    """``results.json``, ``results.md`` and ``best_test.png`` (+ ``hv_ratio.png``) into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(r, indent=1, default=str))
    (out / "results.md").write_text(f"`nago bench search {r['space']}`: {r['seeds']} seeds, {r['queries_total']} queries; "
                                    f"search {', '.join(r['search'])}; optimum {r['optimum']['key']}\n\n{markdown(r)}\n")
    keys = [("best_test", r["report"], "best_test")] + ([("hv_ratio", "hypervolume ratio", "hv_ratio")] if len(r["search"]) > 1 else [])
    keys = [(k, label, f"{f}.png", "queries", "") for k, label, f in keys] + [
        (k, label, f"{f}_cost.png", "cost", "_cost") for k, label, f in keys]
    for key, label, fname, axis, suffix in keys:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        for name, s in r["strategies"].items():
            if axis not in s:
                continue
            q, m, sd = np.array(s[axis]), np.array(s[f"{key}{suffix}_mean"]), np.array(s[f"{key}{suffix}_std"])
            ax.plot(q, m, label=name)
            ax.fill_between(q, m - sd, m + sd, alpha=0.15)
        if key == "best_test":
            ax.axhline(r["optimum"][r["report"]], color="k", lw=0.8, ls="--", label="optimum by search metric")
            lo = np.nanmin([np.nanmin(s["best_test_mean"][min(9, len(s["queries"]) - 1):]) for s in r["strategies"].values()])
            ax.set_ylim(lo - 0.5, r["optimum"][r["report"]] + 0.3)
        xlabel = "queries" if axis == "queries" else "cost (average full-fidelity queries)"
        ax.set_xlabel(xlabel), ax.set_ylabel(label), ax.legend(), ax.grid(alpha=0.3)
        ax.set_title(f"{Path(r['space']).stem}: mean ± std over {r['seeds']} seeds")
        fig.tight_layout()
        fig.savefig(out / fname)
        plt.close(fig)
