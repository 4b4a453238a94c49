"""A :class:`~nago.study.study.Study` as a run file describes it: what ``nago search`` runs.

Chooses the strategy and its options, builds the objective (live training or a table lookup), and
records what makes the study the same study on resume (``meta["protocol"]``: data, model, training
protocol and samples, or the table file's hash).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from nago.strategies import STRATEGIES
from nago.study.study import Study

def study_from_run(
    run: "str | Path | Any",
    *,
    out: str | Path | None = None,
    strategy: str | None = None,
    seed: int | None = None,
    resume: bool = False,
    assignments: Mapping[str, Any] | None = None,
    data_root: str | None = None,
    device: str | None = None,
    progress_each: bool = False,
    warm_start: "list[str | Path] | None" = None,
) -> Study:
    """A :class:`Study` as a run file describes it (what ``nago search`` runs).

    On a table space (``kind = "table"``) the objective is a
    :class:`~nago.objectives.table.TableObjective` on its CSV (no data is read, nothing is trained,
    ``data_root`` and ``device`` do not apply); the study's ``meta["protocol"]`` records the table file
    (name and SHA-256), for a network search the data, model, training protocol and samples.

    Args:
        run: a run TOML path or a :class:`~nago.config.run.RunConfig`.
        out: run directory (default ``<run file dir>/out/<run name>``).
        strategy, seed: override ``[search] strategy`` and ``[run] seed``.
        assignments: generator parameters to fix for this search (``--set``).
        data_root, device: override ``[data] root`` and ``[evaluate] device``.
        progress_each: show a progress bar per trained network too.
        warm_start: earlier study directories to start from (``--warm-start``; relative to the working
            directory); default ``[search] warm_start`` (relative to the run file). See
            :mod:`nago.study.warm_start`.
    """
    import dataclasses

    from nago.config.run import RunConfig, build_objective

    rc = run if isinstance(run, RunConfig) else RunConfig.from_toml(run)
    search = rc.search
    chosen = strategy or search.strategy
    # only the chosen strategy's [search.options.<name>] table (a flat table: only for [search] strategy)
    options = search.options_for(chosen, known=STRATEGIES.names())
    space = rc.space.fix(assignments) if assignments else rc.space
    # a search selects on validation only: the test split is for `nago evaluate` and export
    objective = build_objective(rc, data_root=data_root, device=device, progress=progress_each, evaluate_test=False)
    base = rc.source.parent if rc.source else Path.cwd()
    ref_point = list(search.ref_point) if search.ref_point is not None else None
    if rc.space.is_table:  # configs are looked up in the table's CSV: no data, nothing trained
        table = objective.table
        fidelity = search.fidelity
        if ref_point is None and table.ref_point is not None and list(search.objectives) == [str(m) for m in table.search]:
            ref_point = list(table.ref_point)
        meta = {"run_file": str(rc.source) if rc.source else None, "table": str(table.path),
                "protocol": {"kind": "table", "csv": table.path.name, "sha256": _sha256(table.path),
                             "key": table.key_column, "template": table.template}}
    else:
        data = objective.load_data()  # fail early on a bad data root, and record the real input shape
        fidelity = search.fidelity if search.fidelity is not None else float(objective.train.epochs)
        meta = {"run_file": str(rc.source) if rc.source else None,
                "model": {**dataclasses.asdict(rc.model), "in_channels": data.in_channels, "image_size": data.image_size,
                          "num_classes": data.num_classes},
                # what an exported network expects as input (nago export)
                "data": {"dataset": data.name, "mean": list(data.mean), "std": list(data.std),
                         "classes": list(data.info.get("classes") or []) or None},
                # part of the study's identity: a resume must measure trials the same way
                "protocol": {
                    "kind": "network",
                    # the data root may move between runs; what it holds may not
                    "data": {**{k: v for k, v in dataclasses.asdict(rc.data).items() if k not in ("root", "cache_dir")},
                             "shape": [data.in_channels, data.image_size, data.num_classes],
                             "sizes": [len(data.train), len(data.val), len(data.test)]},
                    "model": dataclasses.asdict(rc.model),
                    "train": {k: v for k, v in dataclasses.asdict(objective.train).items() if k not in _RUNTIME_ONLY},
                    "samples": objective.samples,
                }}
    return Study(
        run_dir=Path(out) if out is not None else base / "out" / rc.name,
        space=space,
        objective=objective,
        objectives=list(search.objectives),
        strategy=chosen,
        strategy_options=options,
        seed=rc.seed if seed is None else seed,
        fidelity=fidelity,
        batch=search.batch,
        ref_point=ref_point,
        name=rc.name,
        resume=resume,
        meta=meta,
        warm_start=list(warm_start) if warm_start else [base / p for p in search.warm_start] or None,
    )


# [train] fields that change how fast a trial runs or what it prints, not what it measures
_RUNTIME_ONLY = frozenset({"progress", "profile_data", "eval_batch_size", "channels_last"})


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
