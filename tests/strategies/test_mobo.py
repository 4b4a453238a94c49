"""MOBO: the initial design, the GP path (qLogNEHVI, qLogNParEGO, qLogNEI), directions, noise,
pending points, fallbacks and options."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood

import nago.strategies.mobo as mobo_module
from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.strategies._gp import gross_failures, observed_noise
from nago.strategies.mobo import MOBO
from nago.strategies.random import RandomSearch
from nago.study.trial import Trial, TrialState, parse_objectives
from nago.warnings import SpaceExhaustedWarning, SurrogateFallbackWarning

SPACE = SearchSpace.from_dict(
    {
        "params": {
            "x1": {"type": "float", "low": 0.0, "high": 1.0},
            "n": {"type": "int", "low": 1, "high": 8},
            "x2": {"type": "float", "low": 0.0, "high": 1.0},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
            "fixed": {"type": "fixed", "value": 2},
        }
    }
)
OBJ = parse_objectives(["acc:max", "mem:min"])
FAST = {"num_restarts": 4, "raw_samples": 64, "mc_samples": 64}


def problem(c: dict[str, Any]) -> dict[str, float]:
    """Accuracy wants x1 high and n near 6; memory wants x1 and n low; 'b' is the best category."""
    acc = 1 - (c["x1"] - 0.8) ** 2 - (c["x2"] - 0.2) ** 2 - 0.05 * (c["n"] - 6) ** 2 - 0.3 * (c["c"] != "b")
    mem = c["x1"] + 0.1 * c["n"] + 0.2 * (c["c"] == "c")
    return {"acc": acc, "mem": mem}


def finished(tid: int, config: dict, metrics: dict | None, **extra: Any) -> Trial:
    state = TrialState.COMPLETE if metrics is not None else TrialState.FAILED
    return Trial(id=tid, config=config, seed=tid, state=state, metrics=metrics or {}, **extra)


def history(n: int, seed: int = 0) -> list[Trial]:
    return [finished(i, c, problem(c)) for i, c in enumerate(SPACE.sample(seed, n))]


def make(objectives=OBJ, seed: int = 0, **options: Any) -> MOBO:
    return MOBO(space=SPACE, objectives=objectives, seed=seed, **{**FAST, **options})


def run(strategy, evaluations: int, q: int = 2) -> list[Trial]:
    done: list[Trial] = []
    while len(done) < evaluations:
        strategy.tell(done)
        for p in strategy.ask(q):
            done.append(finished(len(done), p.config, problem(p.config)))
    return done


def hypervolume(trials: list[Trial]) -> float:
    Y = torch.tensor([[t.metrics["acc"], -t.metrics["mem"]] for t in trials], dtype=torch.float64)
    return Hypervolume(ref_point=torch.tensor([-2.0, -2.0], dtype=torch.float64)).compute(Y[is_non_dominated(Y)])


def test_registered_and_defaults():
    s = STRATEGIES.get("mobo")(space=SPACE, objectives=OBJ)
    assert isinstance(s, MOBO)
    assert s.n_init == 2 * (4 + 1) and s.acquisition == "qlognehvi"


def test_initial_design_is_the_random_sobol_sequence():
    told = history(5)
    s, r = make(seed=4), RandomSearch(space=SPACE, objectives=OBJ, seed=4)
    s.tell(told)
    r.tell(told)
    batch = s.ask(3)
    assert [p.config for p in batch] == [p.config for p in r.ask(3)]
    assert all(p.info["source"] == "sobol" and p.info["reason"] == "init" for p in batch)


def test_gp_batch_with_pending_points(monkeypatch):
    seen_pending = []
    original = mobo_module.qLogNoisyExpectedHypervolumeImprovement

    def spy(**kwargs):
        seen_pending.append(kwargs["X_pending"])
        return original(**kwargs)

    monkeypatch.setattr(mobo_module, "qLogNoisyExpectedHypervolumeImprovement", spy)
    told = history(12)
    s = make(n_init=10)
    s.tell(told)
    pending = [Trial(id=100 + i, config=c, seed=0, state=TrialState.RUNNING) for i, c in enumerate(SPACE.sample(9, 3))]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        batch = s.ask(4, pending=pending)
    assert len(batch) == 4
    keys = [SPACE.key(p.config) for p in batch]
    assert len(set(keys)) == 4
    assert not set(keys) & {SPACE.key(t.config) for t in told + pending}
    assert all(p.info["source"] in ("qlognehvi", "sobol") for p in batch)
    assert sum(p.info["source"] == "qlognehvi" for p in batch) >= 3
    assert torch.equal(seen_pending[0], SPACE.to_unit([t.config for t in pending]))


def test_reference_point_respects_directions():
    told = history(12)
    s = make(n_init=10)
    s.tell(told)
    info = s.ask(1)[0].info
    accs, mems = [t.metrics["acc"] for t in told], [t.metrics["mem"] for t in told]
    # inferred: below the worst accuracy (max) and above the worst memory (min), in metric units
    assert info["source"] == "qlognehvi"
    assert info["ref_point"][0] < min(accs) and info["ref_point"][1] > max(mems)
    given = make(n_init=10, ref_point=[-5.0, 10.0])
    given.tell(told)
    assert given.ask(1)[0].info["ref_point"] == [-5.0, 10.0]


@pytest.mark.parametrize("direction, better", [("max", lambda x: x > 0.75), ("min", lambda x: x < 0.25)])
def test_single_objective_direction(direction, better):
    """y = x1: maximising proposes x1 near 1, minimising near 0."""
    obj = parse_objectives([f"y:{direction}"])
    told = [finished(i, c, {"y": c["x1"]}) for i, c in enumerate(SPACE.sample(3, 12))]
    s = make(objectives=obj, n_init=10)
    s.tell(told)
    (p,) = s.ask(1)
    assert p.info["source"] == "qlognei"
    assert better(p.config["x1"]), p.config


def test_qlognparego():
    s = make(n_init=10, acquisition="qlognparego")
    s.tell(history(12))
    batch = s.ask(2)
    assert len(batch) == 2 and batch[0].info["source"] == "qlognparego"
    assert math.isclose(sum(batch[0].info["weights"]), 1.0) and len(batch[0].info["weights"]) == 2


def test_failed_and_nonfinite_trials_stay_out_of_the_model(monkeypatch):
    told = history(11)
    told[3] = finished(3, told[3].config, None, fail_kind="oom", message="simulated")
    told[5].metrics["acc"] = math.nan
    told[7].metrics["mem"] = math.inf
    captured = {}
    original = mobo_module.fit_model

    def spy(X, Y, Yvar, cat_dims, features=None):
        captured.update(X=X, Y=Y, cat_dims=cat_dims)
        return original(X, Y, Yvar, cat_dims, features)

    monkeypatch.setattr(mobo_module, "fit_model", spy)
    s = make(n_init=8, warp="none")  # raw targets, to check the sign convention
    s.tell(told)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        batch = s.ask(2)
    assert captured["X"].shape == (8, 4) and torch.isfinite(captured["Y"]).all()
    assert captured["cat_dims"] == [3]
    # min-objective negated: Y[:, 1] is -mem
    good = [t for t in told if t.id not in (3, 5, 7)]
    assert torch.allclose(captured["Y"][:, 1], torch.tensor([-t.metrics["mem"] for t in good], dtype=torch.float64))
    assert not {SPACE.key(p.config) for p in batch} & {SPACE.key(t.config) for t in told}


def _broken_fit(*args, **kwargs):
    raise RuntimeError("not positive definite")


def _nan_optimizer(acqf, bounds, **kwargs):
    return torch.full((kwargs["q"], bounds.shape[-1]), math.nan, dtype=torch.float64), None


@pytest.mark.parametrize(
    "target, replacement, error",
    [("fit_model", _broken_fit, "RuntimeError"), ("optimize_acqf_mixed_alternating", _nan_optimizer, "FloatingPoint")],
)
def test_gp_failure_falls_back_to_sobol(monkeypatch, target, replacement, error):
    monkeypatch.setattr(mobo_module, target, replacement)
    s = make(n_init=4)
    told = history(6)
    s.tell(told)
    with pytest.warns(SurrogateFallbackWarning, match=error):
        batch = s.ask(3)
    assert len(batch) == 3
    assert all(p.info["source"] == "fallback" and error in p.info["error"] for p in batch)
    assert not {SPACE.key(p.config) for p in batch} & {SPACE.key(t.config) for t in told}


def test_observed_noise_from_samples():
    objs = parse_objectives(["acc:max", "mem:min"])
    told = []
    for i, c in enumerate(SPACE.sample(0, 4)):
        m = {**problem(c), "acc_std": 0.1 * (i + 1), "mem_std": 0.0}
        told.append(finished(i, c, m, sample_metrics=[{}, {}, {}, {}]))
    Y = torch.tensor([[t.metrics["acc"], -t.metrics["mem"]] for t in told], dtype=torch.float64)
    acc_var, mem_var = observed_noise(told, objs, Y)
    assert torch.allclose(acc_var.squeeze(-1), torch.tensor([0.01, 0.04, 0.09, 0.16], dtype=torch.float64) / 4)
    assert torch.allclose(mem_var, torch.full((4, 1), 1e-5 * Y[:, 1].var().item(), dtype=torch.float64))
    told[2].sample_metrics = [{}]  # one network only: no noise estimate -> learn the noise
    assert observed_noise(told, objs, Y) == [None, None]


def test_fixed_noise_reaches_the_gp():
    told = [
        finished(i, c, {**problem(c), "acc_std": 0.05}, sample_metrics=[{}, {}])
        for i, c in enumerate(SPACE.sample(1, 12))
    ]
    Y = torch.tensor([[t.metrics["acc"], -t.metrics["mem"]] for t in told], dtype=torch.float64)
    X = SPACE.to_unit([t.config for t in told])
    model = mobo_module.fit_model(X, Y, observed_noise(told, OBJ, Y), [3])
    assert isinstance(model.models[0].likelihood, FixedNoiseGaussianLikelihood)
    assert not isinstance(model.models[1].likelihood, FixedNoiseGaussianLikelihood)


def test_warp_reaches_the_gp_and_the_hypervolume_stays_in_raw_units(monkeypatch):
    told = [finished(i, c, {**problem(c), "acc_std": 0.05}, sample_metrics=[{}, {}]) for i, c in enumerate(SPACE.sample(3, 12))]
    seen, original = {}, mobo_module.fit_model

    def spy(X, Y, noise, cat_dims, features=None):
        seen.update(Y=Y, noise=noise)
        return original(X, Y, noise, cat_dims, features)

    monkeypatch.setattr(mobo_module, "fit_model", spy)
    acq, original_acq = {}, mobo_module.qLogNoisyExpectedHypervolumeImprovement
    monkeypatch.setattr(mobo_module, "qLogNoisyExpectedHypervolumeImprovement",
                        lambda **kw: acq.update(kw) or original_acq(**kw))
    raw = torch.tensor([[t.metrics["acc"], -t.metrics["mem"]] for t in told], dtype=torch.float64)
    for warp in ("half-rank-log", "none"):
        acq.clear()
        s = MOBO(space=SPACE, objectives=OBJ, seed=0, n_init=10, warp=warp, ref_point=[-5.0, 10.0])
        s.tell(told)
        (p,) = s.ask(1)
        assert p.info["source"] == "qlognehvi" and p.info["ref_point"] == [-5.0, 10.0]  # raw units either way
        # the hypervolume is measured in raw units (maximisation sense) with or without the warp
        assert torch.equal(acq["ref_point"], torch.tensor([-5.0, -10.0], dtype=torch.float64))
        if warp == "none":
            assert torch.equal(seen["Y"], raw) and acq.get("objective") is None
        else:
            assert seen["Y"].min() >= -0.5 - 1e-9 and seen["Y"].max() <= 0.5 + 1e-9
            assert (seen["Y"].argsort(0) == raw.argsort(0)).all()  # order kept per objective
            assert seen["noise"][0].shape == (12, 1) and seen["noise"][1] is None
            assert torch.allclose(acq["objective"](seen["Y"]), raw)  # samples go back to raw units


def test_categorical_lengthscales_get_a_prior():
    """Without one, ML-II drives some categorical lengthscales to the 1e-6 bound and others to 1e4 on a
    few dozen points, and the GP turns overconfident (NB201: log-EI ~ -40 everywhere, the search stalls)."""
    from botorch.models.kernels.categorical import CategoricalKernel

    told = history(12)
    X = SPACE.to_unit([t.config for t in told])
    Y = torch.tensor([[t.metrics["acc"], -t.metrics["mem"]] for t in told], dtype=torch.float64)
    model = mobo_module.fit_model(X, Y, [None, None], [3])
    kernels = [k for k in model.modules() if isinstance(k, CategoricalKernel)]
    assert kernels and all([name for name, *_ in k.named_priors()] == ["lengthscale_prior"] for k in kernels)


def test_inferred_reference_point_is_the_one_rule_of_nago_analysis_pareto():
    """mobo used its own rule (a zero range offset by max(|nadir|, 1)), reports another (margin * |worst|):
    [0.4, ...] against [0.45, ...] for the same data. Now both are nago.analysis.pareto.reference_point."""
    from nago.analysis.pareto import objective_values, reference_point

    told = history(12)
    told = [finished(t.id, t.config, {**t.metrics, "mem": 3.0}) for t in told]  # a constant objective: zero range
    s = make(n_init=10)
    s.tell(told)
    (p,) = s.ask(1)
    expected = reference_point(objective_values(told, OBJ), maximize=[True, False])
    assert p.info["source"] == "qlognehvi" and p.info["ref_point"] == pytest.approx(expected.tolist())
    assert p.info["ref_point"][1] == pytest.approx(3.3)  # 3.0 + 10 % of |3.0|


def test_all_discrete_space_covers_it_without_repeats():
    tiny = SearchSpace.from_dict(
        {"params": {"n": {"type": "int", "low": 0, "high": 2}, "c": {"type": "categorical", "choices": ["a", "b"]}}}
    )
    s = MOBO(space=tiny, objectives=OBJ, n_init=3, **FAST)
    done: list[Trial] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceExhaustedWarning)
        for _ in range(5):
            s.tell(done)
            for p in s.ask(2):
                metrics = {"acc": p.config["n"] + 0.5 * (p.config["c"] == "b"), "mem": float(len(done))}
                done.append(finished(len(done), p.config, metrics))
    assert sorted(tiny.key(t.config) for t in done) == sorted((n, c) for n in range(3) for c in "ab")


CELLS = SearchSpace.from_dict(
    {"params": {f"e{i}": {"type": "categorical", "choices": ["none", "skip", "conv1", "conv3"]} for i in range(4)}}
)  # a tabular-cell-like space: 4^4 = 256 configs


def cell_score(c: dict[str, Any]) -> float:
    """Every conv3 edge helps, 'none' on e0 is a disaster (a heavy lower tail, as in NAS tables)."""
    return sum(v == "conv3" for v in c.values()) + 0.3 * sum(v == "conv1" for v in c.values()) - 5.0 * (c["e0"] == "none")


@pytest.mark.parametrize("objectives", [["acc:max"], ["acc:max", "mem:min"]], ids=["one", "two"])
def test_discrete_space_scores_every_unseen_candidate(monkeypatch, objectives):
    from nago.strategies import _discrete

    screened = []
    original = _discrete.screen
    monkeypatch.setattr(_discrete, "screen", lambda *a, **k: screened.append(len(a[1])) or original(*a, **k))
    monkeypatch.setattr(_discrete, "SHORTLIST", 32)
    objs = parse_objectives(objectives)
    s = MOBO(space=CELLS, objectives=objs, seed=1, n_init=8, **FAST)
    done = [finished(i, c, {"acc": cell_score(c), "mem": float(i % 3)}) for i, c in enumerate(CELLS.sample(0, 10))]
    pending = [Trial(id=50, config=CELLS.sample(5, 1)[0], seed=0, state=TrialState.RUNNING)]
    s.tell(done)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        batch = s.ask(3, pending=pending)
    seen = {CELLS.key(t.config) for t in done + pending}
    keys = [CELLS.key(p.config) for p in batch]
    assert len(set(keys)) == 3 and not set(keys) & seen
    n_unseen = 256 - len(seen)
    assert screened == [n_unseen]  # every unseen config screened once, the exact acquisition on 32
    assert all(p.info["candidates"] == n_unseen and math.isfinite(p.info["acq_value"]) for p in batch)
    assert all(p.info["source"] == ("qlognei" if len(objs) == 1 else "qlognehvi") for p in batch)


def test_discrete_search_finds_the_cell_optimum():
    s = MOBO(space=CELLS, objectives=parse_objectives(["acc:max"]), seed=0, n_init=8, **FAST)
    done: list[Trial] = []
    while len(done) < 30:
        s.tell(done)
        p = s.ask(1)[0]
        done.append(finished(len(done), p.config, {"acc": cell_score(p.config)}))
    assert max(t.metrics["acc"] for t in done) == 4.0  # all conv3: random search needs ~256/2 draws on average
    assert len({CELLS.key(t.config) for t in done}) == 30


def test_discrete_candidates_enumerate_or_sample_around_anchors():
    import numpy as np

    from nago.strategies._discrete import candidates, level_indices, to_unit

    rng = np.random.default_rng(0)
    full = candidates([2, 3], exclude={(0, 0), (1, 2)}, rng=rng, max_candidates=6)
    assert sorted(map(tuple, full.tolist())) == [(0, 1), (0, 2), (1, 0), (1, 1)]
    assert np.array_equal(level_indices(to_unit(full, [2, 3]), [2, 3]), full)
    anchor = np.array([[9, 9, 9, 9]])
    big = candidates([10] * 4, exclude={(9, 9, 9, 9)}, rng=rng, max_candidates=50, anchors=anchor)
    rows = set(map(tuple, big.tolist()))
    assert len(rows) == len(big) and (9, 9, 9, 9) not in rows
    neighbours = {tuple(9 if i != j else v for i in range(4)) for j in range(4) for v in range(9)}
    assert neighbours <= rows and len(big) <= 50 + len(neighbours)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"acquisition": "ehvi"}, "'acquisition' got 'ehvi'; allowed: qlognehvi, qlognparego"),
        ({"n_init": 1}, "'n_init' got 1; allowed: an integer >= 2"),
        ({"num_restarts": 8, "raw_samples": 4}, "'raw_samples' got 4; allowed: an integer >= 8"),
        ({"ref_point": [1.0]}, "'ref_point' got \\[1.0\\]; allowed: a list of 2 finite numbers"),
        ({"ref_point": [1.0, "x"]}, "'ref_point'"),
        ({"n_inits": 5}, "unknown option.*n_inits"),
        ({"max_candidates": 0}, "'max_candidates' got 0; allowed: an integer >= 1"),
        ({"warp": "log"}, "'warp' got 'log'; allowed: half-rank-log, none"),
        ({"acquisition": 3}, "strategy 'mobo': option 'acquisition' got 3; allowed: qlognehvi, qlognparego"),
        ({"features": "paths"}, "unknown GP feature map 'paths'; allowed: nb201-paths"),
        ({"features": "nb201-paths"}, "'nb201-paths': space .* must have 6 categorical parameters e0, e1"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(ConfigError, match=match):
        MOBO(space=SPACE, objectives=OBJ, **options)


@pytest.mark.slow
def test_beats_random_search():
    """20 evaluations (batches of 2) on the synthetic problem: mean hypervolume over 3 seeds."""
    mobo_hv, random_hv = [], []
    for seed in range(3):
        mobo_hv.append(hypervolume(run(make(seed=seed, n_init=8), 20)))
        random_hv.append(hypervolume(run(RandomSearch(space=SPACE, objectives=OBJ, seed=seed), 20)))
    assert sum(mobo_hv) / 3 > sum(random_hv) / 3, (mobo_hv, random_hv)


def failing_table(tmp_path) -> tuple[SearchSpace, Any]:
    """A two-objective table (acc max, cost min) of 6 x 4^3 = 384 cells where every cell with e0 = 'none'
    (1/6 of them) fails: chance accuracy (~10) at near-zero cost, as disconnected NB201 cells do."""
    import itertools

    import numpy as np

    from nago.objectives.table import load_table_space

    rng = np.random.default_rng(0)
    ops = {"skip": (0.3, 0.5), "pool": (0.6, 1.0), "conv1": (1.5, 3.0), "conv3": (2.5, 7.0)}  # (quality, cost)
    first = ["none", "skip", "pool", "conv1", "conv3", "conv5"]
    lines = ["e0,e1,e2,e3,acc,cost"]
    for cell in itertools.product(first, *[list(ops)] * 3):
        if cell[0] == "none":
            acc, cost = 10.0 + rng.uniform(-0.3, 0.3), rng.uniform(0.01, 0.05)
        else:
            q = sum(ops.get(o, (2.8, 8.0))[0] for o in cell)
            acc = 80 + 1.2 * q - 0.05 * q**1.5 + rng.normal(0, 0.2)
            cost = sum(ops.get(o, (2.8, 8.0))[1] for o in cell) * rng.uniform(0.9, 1.1)
        lines.append(",".join(cell) + f",{acc:.4f},{cost:.4f}")
    (tmp_path / "fails.csv").write_text("\n".join(lines) + "\n")
    params = "".join(f'[params.e{i}]\ntype = "categorical"\nchoices = {choices}\n'.replace("'", '"')
                     for i, choices in enumerate([first, *[list(ops)] * 3]))
    (tmp_path / "fails.toml").write_text(f'[space]\nname = "fails"\nkind = "table"\n\n{params}\n[table]\ncsv = "fails.csv"\n'
                                         'search = ["acc", "cost"]\n\n[table.metrics]\nacc = "max"\ncost = "min"\n')
    return load_table_space(tmp_path / "fails.toml")


def test_two_objectives_do_not_chase_failures(tmp_path):
    """Defect 11: with the half-rank warp and the reference point mapped through it, mobo spent 15-17 of
    these 20 model-based queries (seeds 0-2) on the failing cells, random search ~3. Now the hypervolume
    is measured in raw units and gross failures are an outcome constraint (nago.strategies.mobo)."""
    from nago.objectives.table import TableObjective

    space, table = failing_table(tmp_path)
    objective, objs = TableObjective(table=table), parse_objectives(["acc:max", "cost:min"])
    s = MOBO(space=space, objectives=objs, seed=0, n_init=10, mc_samples=64)
    done: list[Trial] = []
    while len(done) < 30:
        s.tell(done)
        for p in s.ask(2):
            done.append(finished(len(done), p.config, objective(p.config, seed=0).metrics, info=p.info))
    model_based = [t for t in done if t.info["source"] == "qlognehvi"]
    failures = sum(t.config["e0"] == "none" for t in model_based)
    assert len(model_based) >= 15
    assert failures <= 5, f"{failures} of {len(model_based)} model-based queries on failing cells"
    assert all(t.info["gross_failures"] >= 1 for t in model_based)


def test_gross_failures_rule():
    rng = torch.Generator().manual_seed(0)
    acc = torch.cat([85 + 2 * torch.randn(40, generator=rng, dtype=torch.float64), torch.tensor([10.0, 11.0, 70.0], dtype=torch.float64)])
    cost = torch.rand(43, generator=rng, dtype=torch.float64) * 10
    Y = torch.stack([acc, -cost], 1)  # maximisation sense
    assert gross_failures(Y).nonzero().flatten().tolist() == [40, 41]  # 70 % is bad, not detached; 10 and 11 are
    assert not gross_failures(torch.stack([acc[:40], -cost[:40]], 1)).any()
    assert not gross_failures(torch.ones(5, 2, dtype=torch.float64)).any()  # flat: no scale, nothing flagged


def test_gross_failures_become_an_outcome_constraint(monkeypatch):
    told = history(14)
    for t in told[:3]:
        t.metrics["acc"] = -50.0  # far below the rest: failed
    acq, original = {}, mobo_module.qLogNoisyExpectedHypervolumeImprovement
    monkeypatch.setattr(mobo_module, "qLogNoisyExpectedHypervolumeImprovement", lambda **kw: acq.update(kw) or original(**kw))
    s = make(n_init=10)
    s.tell(told)
    (p,) = s.ask(1)
    assert p.info["source"] == "qlognehvi" and p.info["gross_failures"] == 3
    assert acq["model"].num_outputs == 3 and len(acq["constraints"]) == 1
    samples = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    assert acq["constraints"][0](samples).item() == 2.0 and acq["objective"](samples).shape == (1, 2)
    acq.clear()
    clean = make(n_init=10)
    clean.tell(history(14))
    assert "gross_failures" not in clean.ask(1)[0].info and acq.get("constraints") is None
