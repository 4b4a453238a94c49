"""PNG plots of a study: the Pareto front and the hypervolume curve (matplotlib, Agg, no pyplot).

Figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg canvas, so plotting never
touches pyplot's global state or the user's interactive backend and works on headless machines.
matplotlib is optional: it is imported on first use and a missing install raises a
:class:`~nago.errors.NagoError` that says how to get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nago.errors import NagoError
from nago.study.trial import ObjectiveSpec, Trial

_LABEL_ALL_BELOW = 30  # label every point with its trial id up to this many points, else the front only


def _figure() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise NagoError("plots need matplotlib: pip install matplotlib (or write the report with plots=False)") from exc
    fig = Figure(figsize=(6.4, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _label(obj: ObjectiveSpec) -> str:
    return f"{obj.name} ({'max' if obj.maximize else 'min'})"


def front_steps(Y: np.ndarray, maximize: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the 2-D attainment staircase through the non-dominated points ``Y [k, 2]``.

    The line runs along the boundary of the region the points dominate: between two neighbouring
    front points it steps towards the worse value, never cutting through undominated space.

    Returns:
        ``xs, ys`` (raw units), ``2k - 1`` vertices each.
    """
    signs = np.where(np.asarray(maximize, dtype=bool), 1.0, -1.0)
    Z = np.unique(np.asarray(Y, dtype=np.float64) * signs, axis=0)
    Z = Z[np.lexsort((-Z[:, 1], Z[:, 0]))]  # x ascending; on a front y then descends
    xs, ys = [Z[0, 0]], [Z[0, 1]]
    for x, y in Z[1:]:
        xs += [xs[-1], x]
        ys += [y, y]
    return np.array(xs) * signs[0], np.array(ys) * signs[1]


def pareto_plot(
    path: str | Path,
    trials: Sequence[Trial],
    objectives: Sequence[ObjectiveSpec],
    front: Sequence[Trial],
    *,
    title: str = "",
) -> Path:
    """Scatter all complete ``trials`` on the first two objectives, the ``front`` highlighted.

    Points are coloured by fidelity when there are several; front points get a red ring, their trial
    id and (for exactly two objectives) the staircase line. One objective: value against trial id,
    with the running best as a step line.

    Args:
        trials: complete trials with finite objective values (failed trials are not plotted).
        front: the non-dominated subset (at the report's front fidelity).
    """
    fig = _figure()
    ax = fig.add_subplot()
    front_ids = {t.id for t in front}
    single = len(objectives) == 1

    def xy(t: Trial) -> tuple[float, float]:
        if single:
            return float(t.id), t.metrics[objectives[0].name]
        return t.metrics[objectives[0].name], t.metrics[objectives[1].name]

    fidelities = sorted({t.fidelity for t in trials}, key=lambda f: (f is None, f or 0.0))
    for fidelity in fidelities:
        pts = np.array([xy(t) for t in trials if t.fidelity == fidelity], dtype=float).reshape(-1, 2)
        label = None if len(fidelities) == 1 else f"fidelity {fidelity:g}" if fidelity is not None else "default fidelity"
        ax.scatter(pts[:, 0], pts[:, 1], s=22, alpha=0.75, label=label)
    fpts = np.array([xy(t) for t in front], dtype=float).reshape(-1, 2)
    if len(fpts):
        ax.scatter(fpts[:, 0], fpts[:, 1], s=70, facecolors="none", edgecolors="red", linewidths=1.5, label="best" if single else "Pareto front")
    if single and len(front):
        level = {t.fidelity for t in front}
        best = [xy(t) for t in trials if t.fidelity in level]
        vals = np.array([v for _, v in best])
        run = np.maximum.accumulate(vals) if objectives[0].maximize else np.minimum.accumulate(vals)
        ax.step([i for i, _ in best], run, where="post", color="red", linewidth=1, label="best so far")
    elif len(objectives) == 2 and len(fpts):
        xs, ys = front_steps(fpts, [o.maximize for o in objectives])
        ax.plot(xs, ys, color="red", linewidth=1)
    for t in trials:
        if t.id in front_ids or len(trials) <= _LABEL_ALL_BELOW:
            ax.annotate(str(t.id), xy(t), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("trial id" if single else _label(objectives[0]))
    ax.set_ylabel(_label(objectives[0]) if single else _label(objectives[1]))
    extra = f" (first 2 of {len(objectives)} objectives)" if len(objectives) > 2 else ""
    ax.set_title((title + extra).strip() or "Pareto front")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, format="png")
    return Path(path)


def hypervolume_plot(
    path: str | Path,
    trial_ids: Sequence[int],
    history: np.ndarray,
    *,
    ref_point: Sequence[float],
    title: str = "",
) -> Path:
    """Hypervolume after each trial: ``history[k]`` is the HV of the trials up to ``trial_ids[k]``."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.step(list(trial_ids), np.asarray(history, dtype=float), where="post", marker="o", markersize=3)
    ax.set_xlabel("trial id")
    ax.set_ylabel("hypervolume")
    ref = ", ".join(f"{v:.4g}" for v in ref_point)
    ax.set_title(f"{title} (reference point [{ref}])".strip())
    ax.grid(alpha=0.3)
    fig.savefig(path, format="png")
    return Path(path)
