"""The ask/tell contract, checked for every registered strategy.

To add a strategy: register it (importing ``nago.strategies`` must import its module) and, if it
needs settings to run here (or settings that keep it fast), add them to ``KWARGS``. A study is
simulated as the Study runs one: ask, evaluate a synthetic two-objective function (every few trials
fail), tell the whole history. "Seen" means a ``(space.key(config), fidelity)`` pair of a told or
pending trial; a strategy may re-propose a config only at another fidelity (BOHB promotions).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

import nago.strategies  # noqa: F401  (registers every strategy)
from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES, Proposal, Strategy
from nago.study.trial import Trial, TrialState, parse_objectives
from nago.warnings import SpaceExhaustedWarning

# Settings per strategy for these tests (small model budgets keep the suite fast).
KWARGS: dict[str, dict[str, Any]] = {
    "bohb": {"fidelity": 120},
    "mobo": {"n_init": 4, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32},
    "mo-bohb": {"fidelity": 120, "n_min": 4, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32},
    "moasha": {"fidelity": 120},
    "nao": {"n_init": 4, "refit_every": 2, "steps": 30, "hidden": 16},
    "nao-cso": {"n_init": 4, "refit_every": 2, "steps": 30, "hidden": 16, "population": 8, "generations": 4},
}

SPACE = SearchSpace.from_dict(
    {
        "params": {
            "x": {"type": "float", "low": -1.0, "high": 1.0},
            "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
            "n": {"type": "int", "low": 1, "high": 4},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
            "fixed": {"type": "fixed", "value": 7},
        }
    }
)
TINY = SearchSpace.from_dict(
    {"params": {"n": {"type": "int", "low": 0, "high": 1}, "c": {"type": "categorical", "choices": ["a", "b", "c"]}}}
)
OBJECTIVES = parse_objectives(["acc:max", "mem:min"])
NAMES = STRATEGIES.names()


def make(name: str, space: SearchSpace = SPACE, seed: int = 0, **extra: Any) -> Strategy:
    if name.startswith("optuna-"):
        pytest.importorskip("optuna")
    return STRATEGIES.get(name)(space=space, objectives=OBJECTIVES, seed=seed, **{**KWARGS.get(name, {}), **extra})


def evaluate(trial_id: int, p: Proposal, *, fail: bool) -> Trial:
    """A finished trial for proposal ``p``: failed, or complete with both objectives from 2 samples."""
    t = Trial(id=trial_id, config=p.config, seed=trial_id, fidelity=p.fidelity, info=dict(p.info))
    if fail:
        t.state, t.fail_kind, t.message = TrialState.FAILED, "oom", "simulated"
        return t
    c = p.config
    acc = 1 - (c["x"] - 0.3) ** 2 - 0.1 * abs(math.log10(c["lr"]) + 1) - 0.1 * (c["c"] != "b") + 0.02 * c["n"]
    mem = c["n"] * (1 + c["x"] + 1) + (c["c"] == "c")
    samples = [{"acc": acc - 0.01, "mem": mem}, {"acc": acc + 0.01, "mem": mem}]
    t.state, t.sample_metrics = TrialState.COMPLETE, samples
    t.metrics = {"acc": acc, "mem": mem, "acc_std": 0.01 * math.sqrt(2), "mem_std": 0.0}
    return t


def check_batch(space: SearchSpace, batch: list[Proposal], told: list[Trial], pending: list[Trial], repeats: bool = False) -> None:
    """Proposals are complete valid configs, unseen and distinct (unless the strategy ``allows_repeats``)."""
    seen = {(space.key(t.config), t.fidelity) for t in [*told, *pending]}
    for p in batch:
        assert isinstance(p, Proposal) and isinstance(p.info, dict)
        assert space.validate(p.config) == p.config
        ident = (space.key(p.config), p.fidelity)
        assert repeats or ident not in seen, f"re-proposed {p.config} at fidelity {p.fidelity}"
        seen.add(ident)


def simulate(strategy: Strategy, steps: int, batch: int = 2, fail_every: int = 4) -> list[Trial]:
    """Run ``steps`` ask/evaluate/tell rounds; every ``fail_every``-th trial fails."""
    space, history = strategy.space, []
    for _ in range(steps):
        strategy.tell(history)
        proposals = strategy.ask(batch, pending=[])
        check_batch(space, proposals, history, [], getattr(strategy, "allows_repeats", False))
        for p in proposals:
            tid = len(history)
            history.append(evaluate(tid, p, fail=tid % fail_every == fail_every - 1))
    strategy.tell(history)
    return history


def configs(proposals: list[Proposal]) -> list[tuple]:
    return [(SPACE.key(p.config), p.fidelity) for p in proposals]


@pytest.mark.parametrize("name", NAMES)
def test_ask_without_history(name):
    s = make(name)
    s.tell([])
    batch = s.ask(3)
    assert len(batch) == 3
    check_batch(SPACE, batch, [], [], getattr(s, "allows_repeats", False))


@pytest.mark.parametrize("name", NAMES)
def test_history_with_failures_and_pending(name):
    s = make(name)
    history = simulate(s, steps=5)
    assert any(t.state == TrialState.FAILED for t in history)
    first = s.ask(3)
    check_batch(SPACE, first, history, [], getattr(s, "allows_repeats", False))
    pending = [
        Trial(id=len(history) + i, config=p.config, seed=0, fidelity=p.fidelity, info=p.info, state=TrialState.RUNNING)
        for i, p in enumerate(first)
    ]
    second = s.ask(3, pending=pending)
    assert len(second) == 3
    check_batch(SPACE, second, history, pending, getattr(s, "allows_repeats", False))


@pytest.mark.parametrize("name", NAMES)
def test_only_failures(name):
    s = make(name)
    history = simulate(s, steps=3, fail_every=1)
    assert all(t.state == TrialState.FAILED for t in history)
    batch = s.ask(2)
    assert len(batch) == 2
    check_batch(SPACE, batch, history, [], getattr(s, "allows_repeats", False))


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_resumable(name):
    """Same seed, same history -> same proposals; a fresh strategy told the history continues the same."""
    a, b = make(name, seed=3), make(name, seed=3)
    history_a, history_b = simulate(a, steps=4), simulate(b, steps=4)
    assert [t.config for t in history_a] == [t.config for t in history_b]
    resumed = make(name, seed=3)
    resumed.tell(history_a)
    resumed.tell(history_a)  # tell is idempotent
    assert configs(resumed.ask(2)) == configs(a.ask(2))


@pytest.mark.parametrize("name", NAMES)
def test_seed_matters(name):
    a, b = make(name, seed=0), make(name, seed=1)
    assert configs(a.ask(3)) != configs(b.ask(3))


@pytest.mark.parametrize("name", NAMES)
def test_small_discrete_space_never_repeats(name):
    s = make(name, space=TINY)
    history: list[Trial] = []
    for _ in range(6):
        s.tell(history)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            batch = s.ask(2)
        exhausted = [w for w in caught if issubclass(w.category, SpaceExhaustedWarning)]
        assert bool(exhausted) == (len(batch) < 2), [str(w.message) for w in caught]  # fewer <=> announced
        assert all(issubclass(w.category, RuntimeWarning) for w in exhausted)  # RuntimeWarning filters still apply
        check_batch(TINY, batch, history, [], getattr(s, "allows_repeats", False))
        for p in batch:
            tid = len(history)
            t = Trial(id=tid, config=p.config, seed=tid, fidelity=p.fidelity, info=p.info)
            t.state, t.metrics = TrialState.COMPLETE, {"acc": float(p.config["n"]), "mem": float(tid)}
            history.append(t)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option_is_a_config_error(name):
    with pytest.raises(ConfigError, match="definitely_not_an_option"):
        make(name, definitely_not_an_option=1)


def _warm_start(n: int = 12):
    """A WarmStart from a synthetic earlier study over SPACE (same objectives, values as `evaluate` gives)."""
    import numpy as np

    from nago.study.warm_start import WarmSource, WarmStart

    configs = SPACE.sample(123, n)
    done = [evaluate(i, Proposal(c), fail=False) for i, c in enumerate(configs)]
    values = np.array([[t.metrics["acc"], -t.metrics["mem"]] for t in done])
    return WarmStart(sources=(WarmSource(path="/earlier", name="earlier", mapping=tuple(map(str, OBJECTIVES)),
                                         configs=tuple(configs), values=values),))


# mobo with transfer "mean" on this mixed space takes ~1 min (alternating optimiser): slow; mo-bohb runs the same
# MOBO transfer path here, and tests/study/test_warm_start.py runs mobo's transfer in a Study
@pytest.mark.parametrize("name, extra", [(n, {}) for n in NAMES] + [
    pytest.param("mobo", {"transfer": "mean"}, marks=pytest.mark.slow), ("mo-bohb", {"transfer": "mean"})])
def test_warm_start_taken_or_refused(name, extra):
    """Strategies in WARM_START_STRATEGIES evaluate the earlier studies' best configs first and keep the
    contract (valid, unseen, deterministic), with a transfer model too; the others refuse a warm start
    with a ConfigError."""
    from nago.strategies import WARM_START_STRATEGIES

    s = make(name, **extra)
    assert getattr(type(s), "supports_warm_start", False) == (name in WARM_START_STRATEGIES)
    warm = _warm_start()
    if name not in WARM_START_STRATEGIES:
        with pytest.raises(ConfigError, match="takes no warm start"):
            s.set_warm_start(warm)
        return
    s.set_warm_start(warm)
    first = s.ask(2)
    best = warm.initial_configs(SPACE, 2)
    assert [p.config for p in first] == best and all(p.info["source"] == "warm" for p in first)
    s.set_warm_start(warm)
    history = simulate(s, steps=4)  # 8 trials, 6 complete: the model (n_init / n_min 4) proposes from step 3 on
    again = make(name, **extra)
    again.set_warm_start(warm)
    nxt = s.ask(2)
    assert configs(nxt) == configs((again.tell(history), again.ask(2))[1])
    if name in ("mobo", "mo-bohb"):  # the warm-started model itself was exercised (and, with a transfer, says so)
        sources = [t.info.get("source") for t in history] + [p.info.get("source") for p in nxt]
        assert "qlognehvi" in sources
        if extra.get("transfer") == "mean":
            assert any(t.info.get("transfer") == "mean" for t in history)
