"""Run reports: CSV tables, a Markdown summary and PNG plots, read from a run's trial store.

``write_report(run_dir)`` reads ``run_dir/study.sqlite`` and writes next to it:

* ``trials.csv`` — one row per trial: ``id, state, fidelity, seed, fail_kind, message``, every config
  parameter, every metric, ``duration_s``. A config parameter named like one of the fixed columns is
  written as ``config.<name>``, a metric named like any earlier column as ``metrics.<name>``.
* ``pareto.csv`` — the non-dominated trials, best first in the first objective.
* ``report.md`` — counts by state and failure kind, the failed trials, the objectives, the Pareto table,
  the final hypervolume and its reference point, the best trial per objective, for a multi-fidelity
  study how its lower budgets rank configs against the front fidelity (:mod:`nago.analysis.fidelity`),
  links to the plots.
* ``pareto.png``, ``hypervolume.png`` — see :mod:`nago.analysis.plots` (with ``plots=True``).

Which trials form the front: the complete trials at the **highest fidelity present among complete
trials** (trials with the run's default fidelity, ``None``, count only when no trial has a numeric
fidelity), with all objective metrics finite. Multi-fidelity runs (BOHB) thus never mix a 30-epoch
accuracy with a 120-epoch one on one front. The hypervolume, its history and the best trial per
objective use the same trials.

Reference point, in raw metric units (``[0.5, 200.0]`` for ``val_acc:max, memory_mb:min``): the
``ref_point`` argument; else the study's meta ``"ref_point"`` when the objectives are the study's own (same names and
directions, same order): the configured one, or the one the Study inferred once from its first complete
trials and stored (see :class:`nago.study.study.Study`), so the report and the live number agree;
else :func:`nago.analysis.pareto.reference_point` of the front-fidelity trials (worst observed value minus 10% of
the observed range, per objective).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nago.errors import NagoError
from nago.analysis.fidelity import LOW_RHO, LOW_RHO_PAIRS, BudgetAgreement, budget_agreement
from nago.analysis.pareto import hypervolume, hypervolume_history, non_dominated, objective_matrix, reference_point
from nago.study.storage import TrialStore
from nago.study.trial import ObjectiveSpec, Trial, TrialState, parse_objectives

STORE_FILE = "study.sqlite"
_BASE_COLUMNS = ["id", "state", "fidelity", "seed", "fail_kind", "message"]
_MAX_FAILED_ROWS = 100
_MAX_MESSAGE = 160


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A GitHub-flavoured Markdown table; floats get 4 significant digits, missing keys stay empty."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _union(dicts: Sequence[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    return list(keys)


def _csv_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
    return path


def trial_rows(trials: Sequence[Trial], metric_order: Sequence[str] = ()) -> tuple[list[dict], list[str]]:
    """Flat rows (one per trial) and their column order, as written to ``trials.csv``."""
    reserved = {*_BASE_COLUMNS, "duration_s"}
    param_col = {p: f"config.{p}" if p in reserved else p for p in _union([t.config for t in trials])}
    metrics = list(dict.fromkeys([*metric_order, *_union([t.metrics for t in trials])]))
    taken = reserved | set(param_col.values())
    metric_col = {m: f"metrics.{m}" if m in taken else m for m in metrics}
    rows = []
    for t in trials:
        row = {"id": t.id, "state": t.state.value, "fidelity": t.fidelity, "seed": t.seed}
        row.update(fail_kind=t.fail_kind, message=t.message)
        row.update({param_col[p]: v for p, v in t.config.items()})
        row.update({metric_col[m]: v for m, v in t.metrics.items()})
        row["duration_s"] = None if t.duration is None else round(t.duration, 3)
        rows.append(row)
    return rows, [*_BASE_COLUMNS, *param_col.values(), *metric_col.values(), "duration_s"]


def front_fidelity(trials: Sequence[Trial]) -> float | None:
    """The fidelity the Pareto front is taken at (see the module docstring); None if none numeric."""
    numeric = [t.fidelity for t in trials if t.state == TrialState.COMPLETE and t.fidelity is not None]
    return max(numeric) if numeric else None


def _load(run_dir: Path) -> tuple[list[Trial], dict[str, Any]]:
    path = run_dir / STORE_FILE
    if not path.is_file():
        raise NagoError(f"{path}: no trial store (run directory {str(run_dir)!r}); run `nago search` first or pass a run directory")
    with TrialStore(path) as store:
        return store.trials(), {k: store.get_meta(k) for k in ("objectives", "ref_point", "ref_point_source", "run_name",
                                                               "warm_start")}


def _resolve_objectives(objectives: Sequence[ObjectiveSpec | str] | None, stored: Any, path: Path) -> list[ObjectiveSpec]:
    if objectives is None:
        if not stored:
            raise NagoError(f"{path}: the store has no 'objectives' meta; pass objectives, e.g. ['val_acc:max', 'memory_mb:min']")
        objectives = stored
    return parse_objectives([str(o) for o in objectives])


def write_report(
    run_dir: str | Path,
    *,
    objectives: Sequence[ObjectiveSpec | str] | None = None,
    ref_point: Sequence[float] | None = None,
    plots: bool = True,
) -> dict[str, Path]:
    """Write the CSV tables, ``report.md`` and (``plots=True``) the PNGs of a run into ``run_dir``.

    Args:
        run_dir: the run directory holding ``study.sqlite``.
        objectives: defaults to the study's meta ``"objectives"`` (e.g. ``["val_acc:max"]``).
        ref_point: hypervolume reference point in raw metric units, one per objective.
        plots: also write ``pareto.png`` and ``hypervolume.png`` (needs matplotlib); skipped when no
            trial has complete objective values.

    Returns:
        ``{file name: path}`` of every file written.
    """
    run_dir = Path(run_dir)
    trials, meta = _load(run_dir)
    objs = _resolve_objectives(objectives, meta["objectives"], run_dir / STORE_FILE)
    maximize = [o.maximize for o in objs]
    fidelity = front_fidelity(trials)
    Y, scored = objective_matrix([t for t in trials if t.fidelity == fidelity], objs)
    front = [t for t, keep in zip(scored, non_dominated(Y, maximize=maximize)) if keep]
    first = objs[0]
    front.sort(key=lambda t: -t.metrics[first.name] if first.maximize else t.metrics[first.name])

    if ref_point is not None:
        ref, ref_source = np.asarray(ref_point, dtype=float), "as given"
    elif meta["ref_point"] is not None and meta["objectives"] and objs == parse_objectives(meta["objectives"]):
        source = meta["ref_point_source"] or "configured"  # older stores kept only configured ones
        ref, ref_source = np.asarray(meta["ref_point"], dtype=float), f"set by the study: {source}"
    elif len(Y):
        ref, ref_source = reference_point(Y, maximize=maximize), "computed: 10% of the observed range beyond the worst observed value"
    else:
        ref, ref_source = None, ""
    hv = None if ref is None else hypervolume(Y, maximize=maximize, ref_point=ref)

    written: dict[str, Path] = {}
    rows, columns = trial_rows(trials, [o.name for o in objs])
    written["trials.csv"] = _write_csv(run_dir / "trials.csv", rows, columns)
    by_id = {row["id"]: row for row in rows}
    front_cols = ["id", "fidelity", "seed"] + [c for c in columns if c not in _BASE_COLUMNS]
    written["pareto.csv"] = _write_csv(run_dir / "pareto.csv", [by_id[t.id] for t in front], front_cols)

    title = meta["run_name"] or run_dir.name
    if plots and scored:
        from nago.analysis.plots import hypervolume_plot, pareto_plot

        every = objective_matrix(trials, objs)[1]  # complete trials at any fidelity; failed ones are not plotted
        written["pareto.png"] = pareto_plot(run_dir / "pareto.png", every, objs, front, title=title)
        history = hypervolume_history(Y, maximize=maximize, ref_point=ref)
        written["hypervolume.png"] = hypervolume_plot(
            run_dir / "hypervolume.png", [t.id for t in scored], history, ref_point=ref, title=title
        )
    text = _markdown(title, run_dir, trials, objs, fidelity, scored, front, hv, ref, ref_source, written,
                     budgets=_budgets_section(budget_agreement(trials, objs)))
    if meta["warm_start"]:
        text = text.replace("## Trials by state\n", _warm_section(meta["warm_start"], trials) + "## Trials by state\n", 1)
    written["report.md"] = run_dir / "report.md"
    written["report.md"].write_text(text, encoding="utf-8")
    return written


def _warm_section(stored: Any, trials: Sequence[Trial]) -> str:
    """``## Warm start``: where the study's prior came from (:mod:`nago.study.warm_start`)."""
    from nago.study.warm_start import WarmStart

    warm = WarmStart.from_json(stored)
    first = sum(t.info.get("source") == "warm" for t in trials)
    lines = ["## Warm start\n", "This study started from earlier studies (a snapshot of their observations is kept in its store):\n"]
    lines += [f"- {line}" for line in warm.describe().splitlines()]
    lines.append(f"\n{first} trial(s) evaluated the earlier studies' best configs (`info.source = warm`).\n")
    return "\n".join(lines) + "\n"


def _budgets_section(rows: Sequence[BudgetAgreement]) -> str:
    """``## Budgets`` (multi-fidelity studies only): per budget the configs, the objectives' medians and,
    below the front fidelity, the rank agreement with it; a line for each low agreement."""
    if not rows:
        return ""
    names, top = list(rows[-1].median), rows[-1].budget
    table = [{"budget": r.budget, "configs": r.configs, **{f"median {n}": r.median[n] for n in names},
              "also at the front budget": r.pairs if r.budget != top else "-",
              **{f"rho {n}": r.rho[n] if r.budget != top else "-" for n in names}} for r in rows]
    out = ["## Budgets\n",
           f"Configs complete at each budget (epochs), the median of each objective there and, below the front "
           f"fidelity {top:g}, the Spearman rank correlation `rho` with it over the configs trained at both (1: ranked "
           "alike; 0: unrelated). Those configs were promoted for ranking well at the lower budget, so `rho` says "
           "whether the promotions were sound, not whether good configs were left behind; at a low budget whose median "
           "accuracy is near chance, only the fastest learners stand out.\n",
           markdown_table(table, list(table[0]))]
    for r in rows[:-1]:
        for n, rho in r.rho.items():
            if r.pairs >= LOW_RHO_PAIRS and rho < LOW_RHO:
                out.append(f"**Low agreement**: budget {r.budget:g} ranks `{n}` unlike {top:g} (rho {rho:.2f} over "
                           f"{r.pairs} configs): its screens say little; prefer a higher lowest budget (`budgets`, "
                           "`min_budget`) or a single-fidelity strategy (`mobo`).\n")
    return "\n".join(out)


def _short(message: str | None) -> str:
    text = " ".join((message or "").split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _markdown(title, run_dir, trials, objs, fidelity, scored, front, hv, ref, ref_source, written, budgets="") -> str:
    names = [o.name for o in objs]
    counts = Counter(t.state for t in trials)
    out = [f"# nago report: {title}\n", f"Run directory `{run_dir}`: {len(trials)} trials.\n", "## Trials by state\n"]
    out.append(markdown_table([{"state": s.value, "trials": counts.get(s, 0)} for s in TrialState], ["state", "trials"]))

    failed = [t for t in trials if t.state == TrialState.FAILED]
    out.append("## Failures\n")
    if failed:
        kinds = Counter(t.fail_kind for t in failed)
        out.append(markdown_table([{"kind": k, "trials": n} for k, n in kinds.most_common()], ["kind", "trials"]))
        shown = [{"id": t.id, "kind": t.fail_kind, "fidelity": t.fidelity, "message": _short(t.message)} for t in failed]
        out.append(markdown_table(shown[:_MAX_FAILED_ROWS], ["id", "kind", "fidelity", "message"]))
        if len(failed) > _MAX_FAILED_ROWS:
            out.append(f"... and {len(failed) - _MAX_FAILED_ROWS} more failed trials (see `trials.csv`).\n")
    else:
        out.append("No trial failed.\n")

    out.append("## Objectives\n")
    out += [f"- `{o.name}`: {'maximise' if o.maximize else 'minimise'}" for o in objs]
    at = f"fidelity {fidelity:g}, the highest among complete trials" if fidelity is not None else "the run's default fidelity"
    out.append(
        f"\nThe Pareto front, hypervolume and best trials use the {len(scored)} complete trials at {at}, "
        "with every objective finite.\n"
    )

    out.append("## Pareto front\n")
    if front:
        params = _union([t.config for t in front])
        rows = [{"id": t.id, "fidelity": t.fidelity, **t.config, **{n: t.metrics[n] for n in names}} for t in front]
        out.append(f"{len(front)} non-dominated trials (`pareto.csv`):\n")
        out.append(markdown_table(rows, ["id", "fidelity", *names, *params]))
    else:
        out.append("No complete trial with every objective value yet.\n")

    out.append("## Hypervolume\n")
    if hv is not None:
        point = ", ".join(f"{n} = {v:.4g}" for n, v in zip(names, ref))
        out.append(f"Final hypervolume **{hv:.6g}**, reference point ({point}) in raw metric units ({ref_source}).\n")
    else:
        out.append("No hypervolume yet: no complete trial has every objective value.\n")

    out.append("## Best trial per objective\n")
    best = []
    for o in objs:
        if scored:
            t = (max if o.maximize else min)(scored, key=lambda t: t.metrics[o.name])
            best.append({"objective": str(o), "best": t.metrics[o.name], "trial": t.id, "fidelity": t.fidelity})
    out.append(markdown_table(best, ["objective", "best", "trial", "fidelity"]) if best else "None yet.\n")
    if budgets:
        out.append(budgets)

    if "pareto.png" in written:
        out += ["## Plots\n", "![Pareto front](pareto.png)\n", "![Hypervolume over trials](hypervolume.png)\n"]
    return "\n".join(out)
