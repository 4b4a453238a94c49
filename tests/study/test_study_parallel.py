"""The study loop on the process executor: slots filled asynchronously, pending points, worker deaths."""

from __future__ import annotations

import pytest

from _objectives import DiesOnce, Sleepy

from nago.config.space import SearchSpace
from nago.strategies.random import RandomSearch
from nago.study.study import Study
from nago.study.trial import TrialState

SPACE = SearchSpace.from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                                          "n": {"type": "int", "low": 1, "high": 50}}})


class SpyRandom(RandomSearch):
    """Records how many pending trials each ask saw."""

    seen_pending: list[int] = []

    def ask(self, n, pending=()):
        SpyRandom.seen_pending.append(len(pending))
        return super().ask(n, pending)


def test_two_slots_run_trials_concurrently_with_pending_points(tmp_path):
    strategy = SpyRandom(space=SPACE, objectives=[], seed=0)
    SpyRandom.seen_pending = []
    study = Study(run_dir=tmp_path, space=SPACE, objective=Sleepy(0.5), objectives=["y:max"], strategy=strategy)
    from nago.study.executors import LocalExecutor

    with LocalExecutor(slots=2, threads=1) as ex:
        study.optimize(n_trials=6, progress=False, executor=ex)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({t.metrics["pid"] for t in trials}) == 6  # a fresh process per trial
    assert len({SPACE.key(t.config) for t in trials}) == 6
    assert max(SpyRandom.seen_pending) >= 1  # asks made while another trial ran saw it as pending
    spans = sorted((t.metrics["start"], t.metrics["end"]) for t in trials)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))  # some trials ran at the same time


def test_a_worker_death_requeues_once_then_the_trial_completes(tmp_path):
    study = Study(run_dir=tmp_path / "run", space=SPACE, objective=DiesOnce(str(tmp_path)), objectives=["y:max"],
                  strategy="random")
    study.optimize(n_trials=2, progress=False, executor="local")
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert all(t.info["requeued"] == 1 and "worker died" in t.info["requeue_reasons"][0] for t in trials)


def test_a_second_death_fails_the_trial_as_killed(tmp_path):
    study = Study(run_dir=tmp_path / "run", space=SPACE, objective=DiesOnce(str(tmp_path), always=True),
                  objectives=["y:max"], strategy="random")
    study.optimize(n_trials=1, progress=False, executor="local")
    (t,) = study.trials
    assert t.state == TrialState.FAILED and t.fail_kind == "killed" and "died twice" in t.message


def test_interrupt_puts_running_trials_back(tmp_path):
    class Stop(Exception):
        pass

    calls = []

    def stop_after_first(study, trial):
        calls.append(trial.id)
        raise Stop

    study = Study(run_dir=tmp_path, space=SPACE, objective=Sleepy(0.5), objectives=["y:max"], strategy="random")
    from nago.study.executors import LocalExecutor

    with LocalExecutor(slots=2, threads=1) as ex, pytest.raises(Stop):
        study.optimize(n_trials=4, progress=False, executor=ex, callbacks=[stop_after_first])
    states = sorted(t.state.value for t in study.trials)
    assert states == ["complete", "waiting"]  # the other running trial was put back, not lost
    study.optimize(n_trials=4, progress=False)
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 4
