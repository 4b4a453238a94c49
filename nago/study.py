"""Study: the ask -> evaluate -> tell loop over a persistent trial store, with stopping and resume.

The store (``<run_dir>/study.sqlite``) is the single source of truth. Every trial is written before
it is evaluated (``waiting``), marked ``running`` when it starts and ``complete`` / ``failed`` when
it ends, each change committed before the loop goes on. A study killed at any moment resumes with
:meth:`Study.optimize` on the same directory: trials left ``running`` are re-queued and run again
with the same config and seed, finished ones are never re-run, and the strategy is re-told the
whole history (surrogates are refit from the store).

``n_trials`` counts finished trials (complete + failed) of the whole study, across resumes, as
Optuna's ``n_trials`` does: a study asked for 16 trials ends with 16 finished trials. A trial's seed
is derived from the study seed and the trial's position, so it is reproducible from its record.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nago.errors import ConfigError, NagoError
from nago.objective import EvalFailure, EvalResult, Objective, derive_seed
from nago.pareto import hypervolume, pareto_trials, reference_point
from nago.space import SearchSpace
from nago.storage import TrialStore
from nago.strategies import STRATEGIES, Strategy
from nago.trial import ObjectiveSpec, Trial, TrialState, parse_objectives

STORE_FILE = "study.sqlite"
Callback = Callable[["Study", Trial], None]


@dataclasses.dataclass
class Outcome:
    """What evaluating one trial produced (picklable: executors send it back)."""

    metrics: dict[str, float] | None = None
    sample_metrics: list[dict[str, float]] = dataclasses.field(default_factory=list)
    fail_kind: str | None = None
    message: str | None = None


def run_trial(objective: Objective | Callable[..., Any], config: Mapping[str, Any], seed: int, fidelity: float | None) -> Outcome:
    """Evaluate one trial and turn every failure into an :class:`Outcome` (never raises, except on
    KeyboardInterrupt). A plain callable may return an :class:`EvalResult` or a metrics dict."""
    try:
        result = objective(config, seed=seed, fidelity=fidelity)
    except EvalFailure as e:
        return Outcome(sample_metrics=e.sample_metrics, fail_kind=e.kind, message=e.message)
    except NagoError as e:
        return Outcome(fail_kind="invalid", message=str(e))
    except Exception as e:  # noqa: BLE001 - a failing trial must not end the study
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome(fail_kind="error", message=f"{type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})")
    if isinstance(result, EvalResult):
        return Outcome(metrics=result.metrics, sample_metrics=result.sample_metrics)
    try:
        return Outcome(metrics=dict(result))
    except (TypeError, ValueError):
        return Outcome(fail_kind="error", message=f"the objective returned {type(result).__name__} {str(result)[:80]!r}; "
                                                  "allowed: a dict of metrics or an EvalResult")


class Study:
    """A resumable generator (or any black-box) search.

    Args:
        run_dir: directory of the study; ``study.sqlite`` and the reports go there.
        space: the search space.
        objective: ``(config, *, seed, fidelity) -> EvalResult | dict`` (e.g. a TrainObjective).
        objectives: metrics and directions, e.g. ``["val_acc:max", "memory_mb:min"]``.
        strategy: a registered strategy name or a :class:`Strategy` instance.
        strategy_options: options for a named strategy.
        seed: root seed of the study (strategy and trial seeds derive from it).
        fidelity: default budget (epochs) of a trial when the strategy gives none.
        batch: proposals per ask (the pending ones are passed to the strategy).
        ref_point: hypervolume reference point in metric units (else inferred, see nago.pareto).
        name: a label for reports.
        resume: allow opening a directory that already holds a study (it must match).
    """

    def __init__(
        self,
        *,
        run_dir: str | Path,
        space: SearchSpace,
        objective: Objective | Callable[..., Any],
        objectives: Sequence[str | ObjectiveSpec] = ("val_acc:max",),
        strategy: str | Strategy = "mobo",
        strategy_options: Mapping[str, Any] | None = None,
        seed: int = 0,
        fidelity: float | None = None,
        batch: int = 1,
        ref_point: Sequence[float] | None = None,
        name: str | None = None,
        resume: bool = False,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigError(f"batch: got {batch!r}; allowed: an integer >= 1")
        self.run_dir = Path(run_dir)
        self.space, self.objective = space, objective
        self.objectives = [o if isinstance(o, ObjectiveSpec) else ObjectiveSpec.parse(o) for o in objectives] or parse_objectives([])
        if ref_point is not None and len(ref_point) != len(self.objectives):
            raise ConfigError(f"ref_point: got {list(ref_point)}; allowed: one value per objective ({len(self.objectives)})")
        self.seed, self.fidelity, self.batch = int(seed), fidelity, batch
        self.name = name or self.run_dir.name
        self.strategy_name = strategy if isinstance(strategy, str) else type(strategy).__name__
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / STORE_FILE
        existed = path.exists()
        self.store = TrialStore(path)
        identity = {
            "objectives": [str(o) for o in self.objectives],
            "space": [p.name for p in space.searchable],
            # fixed values (e.g. `--set N_m=1`): a resume must not mix networks of another space
            "fixed": json.loads(json.dumps({p.name: p.value for p in space.params if not p.searchable}, default=str)),
            "strategy": self.strategy_name,
            "seed": self.seed,
        }
        if existed and self.store.get_meta("identity") is not None:
            if not resume:
                self.store.close()
                raise ConfigError(f"{self.run_dir} already holds a study; resume it (--resume) or choose another --out")
            old = self.store.get_meta("identity")
            diff = [k for k in identity if k in old and old[k] != identity[k]]  # keys older stores lack are not checked
            if diff:
                self.store.close()
                raise ConfigError(
                    f"cannot resume {self.run_dir}: {', '.join(f'{k} was {old.get(k)!r}, now {identity[k]!r}' for k in diff)}"
                )
        else:
            self.store.set_meta("identity", identity)
            self.store.set_meta("objectives", identity["objectives"])
            self.store.set_meta("run_name", self.name)
            self.store.set_meta("created", time.time())
            for k, v in (meta or {}).items():
                self.store.set_meta(k, v)
        if ref_point is not None:
            self.store.set_meta("ref_point", [float(v) for v in ref_point])
        self.ref_point = self.store.get_meta("ref_point")
        if isinstance(strategy, str):
            cls = STRATEGIES.get(strategy)
            self.strategy: Strategy = cls(space=space, objectives=self.objectives, seed=derive_seed(self.seed, 7),
                                          fidelity=fidelity, **dict(strategy_options or {}))
        else:
            self.strategy = strategy

    # -- the loop ---------------------------------------------------------------------------------
    def optimize(
        self,
        *,
        n_trials: int | None = None,
        timeout_s: float | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
    ) -> "Study":
        """Run until ``n_trials`` trials have finished (in the whole study) or ``timeout_s`` seconds
        of this call have passed, or the strategy has nothing left to propose."""
        if n_trials is None and timeout_s is None:
            raise ConfigError("optimize needs n_trials and/or timeout_s, else it would never stop")
        start = time.monotonic()
        requeued = self.store.requeue_running()
        if requeued:
            warnings.warn(f"re-queued {len(requeued)} trial(s) left running by an interrupted run: "
                          f"{[t.id for t in requeued]}", stacklevel=2)
        bar = self._progress(n_trials) if progress else None
        try:
            while True:
                finished = self._finished()
                if n_trials is not None and len(finished) >= n_trials:
                    break
                if timeout_s is not None and time.monotonic() - start >= timeout_s:
                    break
                waiting = self.store.trials([TrialState.WAITING])
                if not waiting:
                    room = self.batch if n_trials is None else min(self.batch, n_trials - len(finished))
                    waiting = self._ask(room, finished)
                    if not waiting:
                        break  # the strategy has nothing new to propose (a finite space is exhausted)
                trial = self._evaluate(waiting[0])
                for cb in callbacks:
                    cb(self, trial)
                if bar is not None:
                    self._update_bar(bar)
        finally:
            if bar is not None:
                bar.close()
        return self

    def _finished(self) -> list[Trial]:
        return self.store.trials([TrialState.COMPLETE, TrialState.FAILED])

    def _ask(self, n: int, finished: list[Trial]) -> list[Trial]:
        self.strategy.tell(finished)
        proposals = self.strategy.ask(n, pending=self.store.trials([TrialState.WAITING, TrialState.RUNNING]))
        created = []
        for p in proposals:
            index = self.store.count()
            fidelity = p.fidelity if p.fidelity is not None else self.fidelity
            created.append(self.store.create(config=self.space.validate(p.config), seed=derive_seed(self.seed, index),
                                             fidelity=fidelity, info=dict(p.info)))
        return created

    def _evaluate(self, trial: Trial) -> Trial:
        trial = self.store.mark_running(trial.id)
        out = run_trial(self.objective, trial.config, trial.seed, trial.fidelity)
        if out.fail_kind is None:
            missing = [o.name for o in self.objectives if o.name not in out.metrics]
            if missing:
                out = Outcome(sample_metrics=out.sample_metrics, fail_kind="error",
                              message=f"the objective returned no {missing}; it returned {sorted(out.metrics)}")
        if out.fail_kind is None:
            try:
                return self.store.complete(trial.id, metrics=out.metrics, sample_metrics=out.sample_metrics)
            except NagoError as e:  # metrics the store cannot keep (not numbers): the trial failed, the study goes on
                out = Outcome(fail_kind="error", message=str(e))
        return self.store.fail(trial.id, kind=out.fail_kind, message=out.message or "", sample_metrics=out.sample_metrics)

    # -- progress -----------------------------------------------------------------------------------
    def _progress(self, n_trials: int | None):
        from tqdm.auto import tqdm

        return tqdm(total=n_trials, initial=len(self._finished()), desc=f"nago {self.name}", unit="trial", dynamic_ncols=True)

    def _update_bar(self, bar) -> None:
        finished = self._finished()
        bar.n = len(finished)
        post: dict[str, Any] = {"failed": sum(t.state == TrialState.FAILED for t in finished)}
        main = self.objectives[0]
        done = [t for t in finished if t.state == TrialState.COMPLETE and main.name in t.metrics]
        if done:
            vals = [t.metrics[main.name] for t in done]
            post[f"best {main.name}"] = f"{(max if main.maximize else min)(vals):.4g}"
        if len(self.objectives) > 1:
            post["hv"] = f"{self.hypervolume():.4g}"
        bar.set_postfix(post, refresh=False)
        bar.refresh()

    # -- results ------------------------------------------------------------------------------------
    @property
    def trials(self) -> list[Trial]:
        """Every trial of the study, by id."""
        return self.store.trials()

    def pareto_front(self) -> list[Trial]:
        """Complete trials not dominated by any other (over the study's objectives)."""
        return pareto_trials(self.trials, self.objectives)

    @property
    def best_trial(self) -> Trial | None:
        """The best complete trial by the first objective."""
        main = self.objectives[0]
        done = [t for t in self.trials if t.state == TrialState.COMPLETE and main.name in t.metrics]
        if not done:
            return None
        return (max if main.maximize else min)(done, key=lambda t: t.metrics[main.name])

    def hypervolume(self) -> float:
        """Hypervolume of the complete trials w.r.t. the study's reference point (inferred if unset)."""
        import numpy as np

        from nago.pareto import objective_matrix

        Y, _ = objective_matrix(self.trials, self.objectives)
        if len(Y) == 0:
            return 0.0
        maximize = [o.maximize for o in self.objectives]
        ref = self.ref_point if self.ref_point is not None else reference_point(Y, maximize=maximize)
        return float(hypervolume(np.asarray(Y), maximize=maximize, ref_point=ref))

    def report(self, *, plots: bool = True) -> dict[str, Path]:
        """Write trials.csv, pareto.csv, report.md and the PNG plots into the run directory."""
        from nago.report import write_report

        return write_report(self.run_dir, objectives=self.objectives, plots=plots)

    def close(self) -> None:
        self.store.close()


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
) -> Study:
    """A :class:`Study` as a run file describes it (what ``nago search`` runs).

    Args:
        run: a run TOML path or a :class:`~nago.run.RunConfig`.
        out: run directory (default ``<run file dir>/out/<run name>``).
        strategy, seed: override ``[search] strategy`` and ``[run] seed``.
        assignments: generator parameters to fix for this search (``--set``).
        data_root, device: override ``[data] root`` and ``[evaluate] device``.
        progress_each: show a progress bar per trained network too.
    """
    from nago.run import RunConfig, build_objective

    rc = run if isinstance(run, RunConfig) else RunConfig.from_toml(run)
    search = dict(rc.search)
    space = rc.space.fix(assignments) if assignments else rc.space
    objective = build_objective(rc, data_root=data_root, device=device, progress=progress_each)
    base = rc.source.parent if rc.source else Path.cwd()
    data = objective.load_data()  # fail early on a bad data root, and record the real input shape
    return Study(
        run_dir=Path(out) if out is not None else base / "out" / rc.name,
        space=space,
        objective=objective,
        objectives=search.get("objectives", ["val_acc:max", "memory_mb:min"]),
        strategy=strategy or search.get("strategy", "mobo"),
        strategy_options=search.get("options", {}),
        seed=rc.seed if seed is None else seed,
        fidelity=float(search.get("fidelity", objective.train.epochs)),
        batch=int(search.get("batch", 1)),
        ref_point=search.get("ref_point"),
        name=rc.name,
        resume=resume,
        meta={"run_file": str(rc.source) if rc.source else None,
              "model": {**rc.model, "in_channels": data.in_channels, "image_size": data.image_size,
                        "num_classes": data.num_classes}},
    )
