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

import json
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from nago.study.identity import identity_diff, protocol_identity
from nago.errors import ConfigError, NagoError
from nago.objectives.base import Objective
from nago.study.runner import Outcome, derive_seed, run_trial
from nago.analysis.pareto import hypervolume, objective_matrix, pareto_trials, reference_point
from nago.config.space import SearchSpace
from nago.study.storage import STORE_FILE, TrialStore
from nago.strategies import STRATEGIES, Strategy
from nago.study.trial import ObjectiveSpec, Trial, TrialState, parse_objectives
from nago.study.warm_start import WarmStart, resolve_warm_start

if TYPE_CHECKING:
    from nago.study.executors import Executor

Callback = Callable[["Study", Trial], None]


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
        ref_point: hypervolume reference point in metric units, one per objective; else inferred once
            (see "Reference point" below).
        name: a label for reports.
        resume: allow opening a directory that already holds a study; it must be the same study
            (see below), else :class:`ConfigError` names what differs.
        meta: extra records kept in the store (``run_file``, ``model``, ...). Its ``"protocol"`` entry
            (what a trial measures: data and its options, model budget and head, training protocol,
            samples; or the table file) is part of the study's identity.
        warm_start: earlier studies to start from (directories or store files, or a loaded
            :class:`~nago.study.warm_start.WarmStart`); see "Warm starts" below.

    Warm starts (:mod:`nago.study.warm_start`): the sources are read and checked (same searchable
    parameters, objectives mapped) before anything is created, and a snapshot of their observations is
    kept in the store (meta ``"warm_start"``); the strategy gets it
    (:meth:`~nago.strategies.base.Strategy.set_warm_start`; strategies without warm starts refuse it).
    A resume uses the stored snapshot, with or without ``warm_start`` (given, it must name the same
    sources); reports say where the prior came from.

    A study's identity, checked on resume: objectives, searchable parameters and their ranges, fixed
    values (``--set``), strategy, seed, fidelity, and ``meta["protocol"]``. Parts an older store did
    not record are not checked.

    Reference point of the hypervolume, one per study, raw metric units, kept in the store (meta
    ``"ref_point"``, with ``"ref_point_source"``) so that the live number, a resume and ``nago report``
    all use the same:

    * ``ref_point`` given (``[search] ref_point``): that one. It is also handed to the strategy
      (:meth:`~nago.strategies.base.Strategy.set_ref_point`), so mobo's acquisition improves the
      hypervolume the study reports; a different ``ref_point`` strategy option is a :class:`ConfigError`.
    * else it is inferred **once**, when :attr:`ref_point_trials` (``2 * (d + 1)``, the size of mobo's
      default initial design) complete trials with every objective finite exist: the rule of
      :func:`nago.analysis.pareto.reference_point` (worst value minus 10 % of the range) over the first
      that many of them by id, and stored. Until then :meth:`hypervolume` uses a provisional reference
      from the trials so far, and the progress bar shows no hypervolume. Once fixed, a point that
      enlarges no dominated region never changes the number; points worse than the reference in some
      objective add nothing (configure ``ref_point`` when that matters). Strategies infer their own
      reference from their data when none is configured (mobo: each ask, by the same rule).
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
        warm_start: "Sequence[str | Path] | WarmStart | None" = None,
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
        # the strategy (name and options) is checked before anything is created: a typo must not
        # leave a study behind that the corrected command then refuses to overwrite
        if isinstance(strategy, str):
            cls = STRATEGIES.get(strategy)
            self.strategy: Strategy = cls(space=space, objectives=self.objectives, seed=derive_seed(self.seed, 7),
                                          fidelity=fidelity, **dict(strategy_options or {}))
        else:
            self.strategy = strategy
        if ref_point is not None:
            self._hand_ref_point([float(v) for v in ref_point])
        warm = resolve_warm_start(warm_start, space=space, objectives=self.objectives, strategy=self.strategy,
                                  strategy_name=self.strategy_name, run_dir=self.run_dir)
        identity = protocol_identity(self, meta)
        if warm is not None:
            identity["warm_start"] = sorted(s.path for s in warm.sources)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / STORE_FILE
        existed = path.exists()
        self.store = TrialStore(path)
        if existed and self.store.get_meta("identity") is not None:
            if not resume:
                self.store.close()
                raise ConfigError(f"{self.run_dir} already holds a study; resume it (--resume) or choose another --out")
            diff = identity_diff(self.store.get_meta("identity"), identity)
            if warm is not None and "warm_start" not in self.store.get_meta("identity"):
                diff.append("warm_start was none, now " + ", ".join(identity["warm_start"]))
            if diff:
                self.store.close()
                raise ConfigError(f"cannot resume {self.run_dir}: it holds another study ({'; '.join(diff)}); "
                                  "resume with the run file and options that made it, or choose another --out")
        else:
            self.store.set_meta("identity", identity)
            self.store.set_meta("objectives", identity["objectives"])
            self.store.set_meta("run_name", self.name)
            self.store.set_meta("created", time.time())
            for k, v in (meta or {}).items():
                self.store.set_meta(k, v)
            if warm is not None:
                self.store.set_meta("warm_start", warm.to_json())
        stored = self.store.get_meta("warm_start")
        self.warm_start: WarmStart | None = WarmStart.from_json(stored) if stored else None
        if self.warm_start is not None:
            self.strategy.set_warm_start(self.warm_start)
        if ref_point is not None:
            self.store.set_meta("ref_point", [float(v) for v in ref_point])
            self.store.set_meta("ref_point_source", "configured")
        self.ref_point: list[float] | None = self.store.get_meta("ref_point")
        self.ref_point_trials = 2 * (space.dim + 1)
        if self.ref_point is not None and self.store.get_meta("ref_point_source") in (None, "configured"):
            try:  # a configured reference kept by the store (older stores kept only configured ones)
                self._hand_ref_point(self.ref_point)
            except ConfigError:
                self.store.close()
                raise

    def _hand_ref_point(self, ref_point: list[float]) -> None:
        """Give the configured reference point to the strategy (see the class docstring)."""
        own = getattr(self.strategy, "ref_point", None)
        if own is not None and [float(v) for v in own] != ref_point:
            raise ConfigError(f"ref_point: the study's is {ref_point} but the strategy's option ref_point is "
                              f"{[float(v) for v in own]}; allowed: set one of them, or both equal")
        if isinstance(self.strategy, Strategy):
            self.strategy.set_ref_point(ref_point)

    def _fix_ref_point(self) -> None:
        """Infer and store the study's reference point once enough trials are complete (class docstring)."""
        if self.ref_point is not None:
            return
        Y, _ = objective_matrix(self.trials, self.objectives)  # complete, every objective finite, by id
        k = self.ref_point_trials
        if len(Y) < k:
            return
        ref = [float(v) for v in reference_point(Y[:k], maximize=[o.maximize for o in self.objectives])]
        self.store.set_meta("ref_point", ref)
        self.store.set_meta("ref_point_source", f"inferred from the first {k} complete trials")
        self.ref_point = ref

    # -- the loop ---------------------------------------------------------------------------------
    def optimize(
        self,
        *,
        n_trials: int | None = None,
        timeout_s: float | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
        executor: "Executor | str | None" = None,
    ) -> "Study":
        """Run until ``n_trials`` trials have finished (in the whole study), or ``timeout_s`` seconds
        of this call have passed (trials already running are finished, none is started), or the
        strategy has nothing left to propose, or a callback called :meth:`stop` (likewise: running
        trials finish, none starts; e.g. a budget of training cost rather than of trials).

        ``executor`` (an :class:`~nago.study.executors.Executor` or a name: ``"inline"``, the default,
        ``"local"``, ``"ray"``) runs the trials; free slots are filled as trials finish, and the
        strategy sees the running trials as pending points. A worker that dies mid-trial (killed,
        crashed) puts its trial back once; the second death fails it with kind ``"killed"``.
        """
        from nago.study.executors import EXECUTORS, Executor

        if n_trials is None and timeout_s is None and not callbacks:
            raise ConfigError("optimize needs n_trials, timeout_s and/or a callback that calls study.stop(), "
                              "else it would never stop")
        start = time.monotonic()
        self._stop_requested = False
        requeued = self.store.requeue_running()
        if requeued:
            warnings.warn(f"re-queued {len(requeued)} trial(s) left running by an interrupted run: "
                          f"{[t.id for t in requeued]}", stacklevel=2)
        self._fix_ref_point()  # a store from before the rule, or trials added outside the loop
        own = not isinstance(executor, Executor)
        ex: Executor = EXECUTORS.get(executor or "inline")() if own else executor
        bar = self._progress(n_trials) if progress else None
        in_flight: dict[Any, Trial] = {}
        try:
            exhausted = False
            invalid_streak = 0  # asks in a row that proposed only configs outside the space
            while True:
                finished = self._finished()
                timed_out = self._stop_requested or (timeout_s is not None and time.monotonic() - start >= timeout_s)
                left = None if n_trials is None else n_trials - len(finished) - len(in_flight)
                while not (timed_out or exhausted) and ex.free() > 0 and (left is None or left > 0):
                    waiting = self.store.trials([TrialState.WAITING])
                    if not waiting:
                        want = max(self.batch, ex.free())
                        n_before = self.store.count()
                        waiting = self._ask(want if left is None else min(want, left), finished)
                        rejected = self.store.count() - n_before - len(waiting)  # failed at once as invalid
                        if rejected:
                            finished = self._finished()
                            left = None if left is None else left - rejected
                            invalid_streak += 1
                            if not waiting and invalid_streak < 3:
                                continue
                        else:
                            invalid_streak = 0
                        exhausted = not waiting  # a finite space can run out of new configs
                        if exhausted:
                            break
                    trial = self.store.mark_running(waiting[0].id)
                    in_flight[ex.submit(run_trial, self.objective, trial.config, trial.seed, trial.fidelity)] = trial
                    left = None if left is None else left - 1
                if not in_flight:
                    break
                for done in ex.poll(timeout=1.0):
                    trial = self._record(in_flight.pop(done.handle), done)
                    if trial.state == TrialState.COMPLETE:
                        self._fix_ref_point()
                    if trial.state != TrialState.WAITING:
                        for cb in callbacks:
                            cb(self, trial)
                    if bar is not None:
                        self._update_bar(bar)
        finally:
            for h, trial in in_flight.items():  # interrupted (Ctrl-C, an error): put the trials back
                ex.cancel(h)
                self.store.requeue(trial.id, reason="the study was interrupted")
            if own:
                ex.shutdown()
            if bar is not None:
                bar.close()
        return self

    def stop(self) -> None:
        """Ask the running :meth:`optimize` to start no new trial (those running finish and are recorded).
        Meant for callbacks ``(study, trial)``; the next ``optimize`` call starts afresh."""
        self._stop_requested = True

    def _record(self, trial: Trial, done: Any) -> Trial:
        """Store what an executor returned for ``trial``."""
        if done.died:
            deaths = sum("worker died" in r for r in trial.info.get("requeue_reasons", []))
            if deaths < 1:
                return self.store.requeue(trial.id, reason=f"worker died: {done.error}")
            return self.store.fail(trial.id, kind="killed", message=f"the worker died twice: {done.error}")
        if done.error is not None:  # the executor could not run the task at all (e.g. unpicklable)
            return self.store.fail(trial.id, kind="error", message=done.error)
        return self._store_outcome(trial, done.value)

    def _finished(self) -> list[Trial]:
        return self.store.trials([TrialState.COMPLETE, TrialState.FAILED])

    def _ask(self, n: int, finished: list[Trial]) -> list[Trial]:
        self.strategy.tell(finished)
        proposals = self.strategy.ask(n, pending=self.store.trials([TrialState.WAITING, TrialState.RUNNING]))
        created = []
        for p in proposals:
            index = self.store.count()
            fidelity = p.fidelity if p.fidelity is not None else self.fidelity
            try:
                config = self.space.validate(p.config)
            except ConfigError as e:  # a strategy's bug must not stop the study: record it as a failed trial
                raw = json.loads(json.dumps(dict(p.config), default=str))
                bad = self.store.create(config=raw, seed=derive_seed(self.seed, index), fidelity=fidelity, info=dict(p.info))
                self.store.fail(bad.id, kind="invalid", message=f"the strategy proposed a config outside the space: {e}")
                continue
            created.append(self.store.create(config=config, seed=derive_seed(self.seed, index),
                                             fidelity=fidelity, info=dict(p.info)))
        return created

    def _store_outcome(self, trial: Trial, out: Outcome) -> Trial:
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
            hv = self.hypervolume()
            if self.ref_point is not None:  # no live number on a provisional reference (it would move)
                post["hv"] = f"{hv:.4g}"
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
        """Hypervolume of the complete trials (every objective finite) w.r.t. the study's reference point
        (configured, or inferred once and stored; provisional until then: see the class docstring)."""
        self._fix_ref_point()
        Y, _ = objective_matrix(self.trials, self.objectives)
        if len(Y) == 0:
            return 0.0
        maximize = [o.maximize for o in self.objectives]
        ref = self.ref_point if self.ref_point is not None else reference_point(Y, maximize=maximize)
        return float(hypervolume(Y, maximize=maximize, ref_point=ref))

    def report(self, *, plots: bool = True) -> dict[str, Path]:
        """Write trials.csv, pareto.csv, report.md and the PNG plots into the run directory."""
        from nago.analysis.report import write_report

        return write_report(self.run_dir, objectives=self.objectives, plots=plots)

    def close(self) -> None:
        self.store.close()
