"""TrainObjective (k sampled networks, aggregate mean/std, typed failures, picklable), derive_seed,
aggregate and EvalFailure. Networks are tiny (20k parameters, 300 digits images, 1 epoch)."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from nago.errors import ConfigError
from nago.errors import EvalFailure
from nago.objectives.base import EvalResult
from nago.objectives.network import SEARCH_METRICS, TEST_METRICS, TrainObjective, aggregate
from nago.study.runner import derive_seed
from nago.config.run import ModelSection
from nago.config.space import SearchSpace
from nago.training.train import TrainConfig

from _paths import SPACES

# metrics that measure time and so differ between two runs of the same network
TIMINGS = {"train_seconds", "images_per_second", "wall_seconds", "data_fraction", "generate_seconds", "build_seconds",
           "profile_seconds", "evaluate_seconds"}


def _objective(**kw) -> TrainObjective:
    args = dict(data="digits", data_options={"val_fraction": 0.15, "max_train": 300},
                train=TrainConfig(epochs=1, batch_size=32, lr=0.1, progress=False),
                model=ModelSection(param_limit=2e4, head_width=16, dropout=0.1), samples=2, device="cpu", threads=1,
                evaluate_test=True)
    return TrainObjective(**{**args, **kw})


@pytest.fixture(scope="module")
def objective() -> TrainObjective:
    obj = _objective()
    obj.load_data()
    return obj


@pytest.fixture(scope="module")
def config() -> dict:
    space = SearchSpace.from_toml(SPACES / "hnag.toml")
    return space.validate({"N_t": 3, "N_m": 1, "N_b": 3}, partial=True)


@pytest.fixture(scope="module")
def result(objective, config) -> EvalResult:
    return objective(config, seed=5, fidelity=1)


def _stable(sample: dict) -> dict:
    return {k: v for k, v in sample.items() if k not in TIMINGS}


def test_k_samples_aggregate_mean_std_and_count(result):
    m, samples = result.metrics, result.sample_metrics
    assert len(samples) == 2 and m["n_samples"] == 2.0
    for key in ("val_acc", "test_acc", "params", "memory_mb", "flops", "train_seconds"):
        vals = np.array([s[key] for s in samples])
        assert m[key] == pytest.approx(vals.mean())
        assert m[f"{key}_std"] == pytest.approx(vals.std(ddof=1))  # sample std (unbiased variance) over the k networks
    assert 0.0 <= m["val_acc"] <= 1.0
    assert abs(m["params"] - 2e4) / 2e4 < 0.15  # near the budget


def test_sample_seeds_differ_derive_from_the_trial_seed_and_reproduce(objective, config, result):
    seeds = [int(s["net_seed"]) for s in result.sample_metrics]
    assert seeds == [derive_seed(5, 0, 0), derive_seed(5, 1, 0)]
    assert seeds[0] != seeds[1]
    again = objective(config, seed=5, fidelity=1)
    assert [_stable(s) for s in again.sample_metrics] == [_stable(s) for s in result.sample_metrics]
    other = objective(config, seed=6, fidelity=1)
    assert {int(s["net_seed"]) for s in other.sample_metrics}.isdisjoint(seeds)


def test_search_mode_skips_the_test_split_and_measures_latency_when_asked(objective, config):
    """The default (a search) never evaluates the test split; ``latency=True`` adds ``latency_ms``."""
    search = _objective(samples=1, evaluate_test=False, latency=True)
    assert TrainObjective(data="digits", train=objective.train).evaluate_test is False  # the default
    search._data = objective._data
    out = search(config, seed=5, fidelity=1)
    assert not {"test_acc", "test_loss"} & set(out.metrics) and "test_acc" not in out.sample_metrics[0]
    assert out.metrics["latency_ms"] > 0 and out.sample_metrics[0]["latency_ms"] == out.metrics["latency_ms"]
    assert "latency_ms" not in objective(config, seed=5, fidelity=1).metrics  # not measured unless asked
    assert SEARCH_METRICS >= {"val_acc", "memory_mb", "params", "flops", "latency_ms"}
    assert not SEARCH_METRICS & TEST_METRICS


def test_the_network_is_built_by_the_model_section(objective, config):
    """TrainObjective.build is ModelSection.build at the data's shape: same structure and weights."""
    from nago.generator.hnag import generate

    spec, net = objective.build(config, 11)
    data = objective.load_data()
    again = objective.model.build(generate(config, 11), in_channels=data.in_channels, image_size=data.image_size,
                                  num_classes=data.num_classes, seed=11)
    assert spec == generate(config, 11)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize("kw, named", [(dict(evaluate_test=1), "evaluate_test"), (dict(latency="yes"), "latency"),
                                       (dict(model={"param_limit": 1e4}), "model")])
def test_bad_flags_are_named(kw, named):
    with pytest.raises(ConfigError, match=named):
        _objective(**kw)


def test_fidelity_sets_the_epochs(objective, config):
    res = _objective(samples=1)
    res._data = objective._data
    out = res(config, seed=1, fidelity=2)
    assert out.metrics["epochs"] == 2.0


def test_diverging_training_is_a_nan_failure(objective, config):
    bad = _objective(train=dataclasses.replace(objective.train, lr=1e6))
    bad._data = objective._data
    with pytest.raises(EvalFailure) as info:
        bad(config, seed=0, fidelity=1)
    assert info.value.kind == "nan"
    assert "network 0" in info.value.message
    assert info.value.sample_metrics == []  # the first network failed: nothing trained to keep


def test_an_unbuildable_config_is_an_invalid_failure(objective, config):
    with pytest.raises(EvalFailure) as info:
        objective({**config, "op": "no_such_op"}, seed=0, fidelity=1)
    assert info.value.kind == "invalid"
    assert "op" in info.value.message


def test_pickling_drops_the_loaded_data(objective):
    assert objective._data is not None
    blob = pickle.dumps(objective)
    assert len(blob) < 20_000  # the 1,797 images would be far bigger
    clone = pickle.loads(blob)
    assert clone._data is None and objective._data is not None
    assert clone.samples == objective.samples and clone.train == objective.train
    assert clone.load_data().num_classes == 10


def test_construction_reads_no_data():
    assert _objective()._data is None


@pytest.mark.parametrize("threads", [-1, True, 1.5, "2"])
def test_threads_must_be_a_non_negative_int(threads):
    with pytest.raises(ConfigError, match="threads"):
        _objective(threads=threads)


@pytest.mark.parametrize("samples", [0, -2, True, 1.0])
def test_samples_must_be_a_positive_int(samples):
    with pytest.raises(ConfigError, match="samples"):
        _objective(samples=samples)


def test_threads_sets_torch_threads(objective, config):
    one = _objective(samples=1, threads=1)
    one._data = objective._data
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        one(config, seed=0, fidelity=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_derive_seed_is_stable_distinct_and_31_bit():
    assert derive_seed(0, 1) == derive_seed(0, 1)
    seeds = {derive_seed(s, i, j) for s in range(3) for i in range(10) for j in range(2)}
    assert len(seeds) == 60
    assert all(0 <= s < 2**31 for s in seeds)
    assert derive_seed(0, 1, 0) != derive_seed(0, 0, 1)


def test_aggregate_sample_std_and_single_sample():
    # ddof = 1: with k = 2 the population std (1.0) would halve the variance of the mean the GP sees
    out = aggregate([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 2.0}])
    assert out == {"a": 2.0, "a_std": pytest.approx(2**0.5), "b": 2.0, "b_std": 0.0, "n_samples": 2.0}
    assert aggregate([{"a": 5.0}]) == {"a": 5.0, "a_std": 0.0, "n_samples": 1.0}


def test_eval_failure_pickles_with_its_kind_and_samples():
    e = pickle.loads(pickle.dumps(EvalFailure("oom", "too big", sample_metrics=[{"val_acc": 0.5}])))
    assert (e.kind, e.message, e.sample_metrics, str(e)) == ("oom", "too big", [{"val_acc": 0.5}], "too big")
