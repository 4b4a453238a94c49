"""Warm starts (:mod:`nago.study.warm_start`): sources, checks, the Study's record and resume, the strategies."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pytest
import torch

from nago.config.space import SearchSpace
from nago.errors import ConfigError
from nago.objectives.table import TableObjective, load_table_space
from nago.study.study import Study
from nago.study.trial import ObjectiveSpec, TrialState
from nago.study.warm_start import WarmStart, load_source, load_warm_start, map_objectives

from _mf_table import write_mf_table


def _space(tmp_path, search: str = '["acc", "time"]'):
    path = write_mf_table(tmp_path)
    if search != '["acc", "time"]':
        other = tmp_path / f"mf-{abs(hash(search))}.toml"
        other.write_text(path.read_text().replace('search = ["acc", "time"]', f"search = {search}"))
        path = other
    return load_table_space(path)


def _study(run_dir, space, table, objectives, strategy="random", seed=0, **kw):
    return Study(run_dir=run_dir, space=space, objective=TableObjective(table=table), objectives=objectives,
                 strategy=strategy, seed=seed, **kw)


def _source(tmp_path, objectives=("acc:max",), n=20, name="src"):
    space, table = _space(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = _study(tmp_path / name, space, table, list(objectives), seed=3)
        s.optimize(n_trials=n, progress=False)
        s.close()
    return tmp_path / name


def test_source_snapshot_maps_objectives_and_ranks_its_configs(tmp_path):
    src = _source(tmp_path)
    space, table = _space(tmp_path, '["test"]')
    ws = load_source(src, space=space, objectives=[ObjectiveSpec.parse("test:max")])
    assert ws.mapping == ("acc:max",) and len(ws.configs) == 20 and ws.dropped == 0  # no common name: by position
    ranked = ws.ranked_configs()  # best first by the source's values
    value = {space.key(c): v for c, v in zip(ws.configs, ws.values[:, 0])}
    assert [value[space.key(c)] for c in ranked] == sorted(ws.values[:, 0], reverse=True)
    # the snapshot round-trips through JSON (what the store keeps)
    again = WarmStart.from_json(WarmStart(sources=(ws,)).to_json())
    assert again.sources[0].configs == ws.configs and np.array_equal(again.sources[0].values, ws.values)


def test_a_minimised_source_metric_counts_in_the_sources_own_sense(tmp_path):
    src = _source(tmp_path, objectives=("acc:min",))  # an adversarial source: it preferred low accuracy
    space, _ = _space(tmp_path)
    ws = load_source(src, space=space, objectives=[ObjectiveSpec.parse("acc:max")])
    assert ws.mapping == ("acc:min",)
    assert (ws.values[:, 0] < 0).all()  # -acc: "higher is better" for the source means lower accuracy


def test_objectives_by_name_then_position_else_a_clear_error():
    target = [ObjectiveSpec.parse("val_acc:max"), ObjectiveSpec.parse("memory_mb:min")]
    assert map_objectives(["val_acc:max"], target, "src") == ["val_acc:max", None]  # the other gets no prior
    assert map_objectives(["a:max", "b:min"], target, "src") == ["a:max", "b:min"]
    with pytest.raises(ConfigError, match="none shares a metric name and their numbers differ"):
        map_objectives(["a:max"], target, "src")


def test_bad_sources_are_refused_naming_what_differs(tmp_path):
    src = _source(tmp_path)
    space, _ = _space(tmp_path)
    objs = [ObjectiveSpec.parse("acc:max")]
    with pytest.raises(ConfigError, match="neither a study directory"):
        load_source(tmp_path / "nowhere", space=space, objectives=objs)
    renamed = SearchSpace.from_dict({"params": {"a": {"type": "categorical", "choices": list("pqrstu")},
                                                "c": {"type": "int", "low": 0, "high": 5}}})
    with pytest.raises(ConfigError, match="parameter 'b'"):
        load_source(src, space=renamed, objectives=objs)
    retyped = SearchSpace.from_dict({"params": {"a": {"type": "categorical", "choices": list("pqrstu")},
                                                "b": {"type": "float", "low": 0, "high": 5}}})
    with pytest.raises(ConfigError, match="'b' is 'int' in .* but 'float' here"):
        load_source(src, space=retyped, objectives=objs)
    with pytest.raises(ConfigError, match="given twice"):
        load_warm_start([src, src], space=space, objectives=objs)
    # a narrower target range keeps what fits and counts the rest
    narrow = SearchSpace.from_dict({"params": {"a": {"type": "categorical", "choices": list("pqrstu")},
                                               "b": {"type": "int", "low": 0, "high": 2}}})
    ws = load_source(src, space=narrow, objectives=objs)
    assert ws.dropped > 0 and len(ws.configs) + ws.dropped == 20 and all(c["b"] <= 2 for c in ws.configs)


def test_study_evaluates_the_sources_best_first_keeps_the_record_and_resumes(tmp_path):
    src = _source(tmp_path)
    space, table = _space(tmp_path, '["test"]')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = _study(tmp_path / "tgt", space, table, ["test:max"], strategy="mobo", seed=1, warm_start=[src],
                   strategy_options={"n_init": 4, "warm_init": 3, "raw_samples": 16, "num_restarts": 2, "transfer": "mean"})
        s.optimize(n_trials=6, progress=False)
    first = [t for t in s.trials if t.info.get("source") == "warm"]
    assert [t.id for t in first] == [1, 2, 3]
    ranked = s.warm_start.sources[0].ranked_configs()[:3]
    assert [t.config for t in first] == ranked
    # the initial design ends with Sobol points (the weight needs varied target data), then the GP with the
    # sources' GPs in its prior mean
    assert s.trials[3].info["source"] == "sobol"
    assert all(t.info.get("transfer") == "mean" and t.info["source"] == "qlognei" for t in s.trials[4:])
    s.close()
    assert "## Warm start" in (s.report(plots=False) and (tmp_path / "tgt" / "report.md").read_text())
    # resume without --warm-start: the stored snapshot, even once the source is gone
    import shutil

    shutil.rmtree(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = _study(tmp_path / "tgt", space, table, ["test:max"], strategy="mobo", seed=1, resume=True,
                       strategy_options={"n_init": 4, "warm_init": 3, "raw_samples": 16, "num_restarts": 2, "transfer": "mean"})
    assert again.warm_start is not None and again.strategy.warm is again.warm_start
    assert again.warm_start.sources[0].configs == s.warm_start.sources[0].configs
    again.close()


def test_resume_refuses_another_warm_start_and_a_cold_study_refuses_one(tmp_path):
    src, other = _source(tmp_path), _source(tmp_path, name="other")
    space, table = _space(tmp_path)
    kw = {"strategy": "bohb", "strategy_options": {"budgets": [4, 36]}}
    _study(tmp_path / "tgt", space, table, ["acc:max"], warm_start=[src], **kw).close()
    with pytest.raises(ConfigError, match="warm_start"):
        _study(tmp_path / "tgt", space, table, ["acc:max"], warm_start=[other], resume=True, **kw)
    _study(tmp_path / "cold", space, table, ["acc:max"], **kw).close()
    with pytest.raises(ConfigError, match="warm_start was none"):
        _study(tmp_path / "cold", space, table, ["acc:max"], warm_start=[src], resume=True, **kw)
    with pytest.raises(ConfigError, match="own directory"):
        _study(src, space, table, ["acc:max"], warm_start=[src], resume=True, **kw)


def test_strategies_without_warm_starts_refuse_one_before_anything_is_created(tmp_path):
    src = _source(tmp_path)
    space, table = _space(tmp_path)
    with pytest.raises(ConfigError, match="'rea' takes no warm start; allowed: one of bohb, mo-bohb, moasha, mobo"):
        _study(tmp_path / "rea", space, table, ["acc:max"], strategy="rea", warm_start=[src])
    assert not (tmp_path / "rea").exists()


@pytest.mark.parametrize("strategy", ["bohb", "mo-bohb", "moasha"])
def test_multi_fidelity_strategies_screen_the_sources_best_configs_first(tmp_path, strategy):
    src = _source(tmp_path, objectives=("acc:max", "time:min"))
    space, table = _space(tmp_path)
    options = {"budgets": [4, 36], "warm_init": 4}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = _study(tmp_path / strategy, space, table, ["acc:max", "time:min"], strategy=strategy, warm_start=[src],
                   strategy_options=options)
        s.optimize(n_trials=8, progress=False)
    warm = [t for t in s.trials if t.info.get("source") == "warm"]
    assert [t.config for t in warm] == s.warm_start.initial_configs(space, 4)
    assert len(warm) == 4
    if strategy != "bohb":  # bohb's new configs fill its brackets' first rungs (budget 36 in the second bracket)
        assert all(t.fidelity == 4 for t in warm)  # the lowest budget, like any new config
    s.close()


def test_mobo_default_keeps_the_configs_and_a_cold_model(tmp_path):
    """transfer="none" by default (BENCHMARKS.md "Warm starts"): the sources' configs first, then the GP of
    the target's own observations (no "transfer" in the proposals' info)."""
    src = _source(tmp_path)
    space, table = _space(tmp_path, '["test"]')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = _study(tmp_path / "tgt", space, table, ["test:max"], strategy="mobo", seed=1, warm_start=[src],
                   strategy_options={"n_init": 4, "warm_init": 2, "raw_samples": 16, "num_restarts": 2})
        s.optimize(n_trials=6, progress=False)
    assert s.strategy.transfer == "none" and not s.strategy.model_transfer
    assert [t.info["source"] for t in s.trials] == ["warm", "warm", "sobol", "sobol", "qlognei", "qlognei"]
    assert not any("transfer" in t.info for t in s.trials)
    s.close()


def test_initial_configs_take_each_source_in_turn(tmp_path):
    a, b = _source(tmp_path, name="a"), _source(tmp_path, objectives=("acc:min",), name="b")
    space, _ = _space(tmp_path)
    ws = load_warm_start([a, b], space=space, objectives=[ObjectiveSpec.parse("acc:max")])
    first = ws.initial_configs(space, 4)
    ra, rb = ws.sources[0].ranked_configs(), ws.sources[1].ranked_configs()
    assert first[0] == ra[0] and first[1] == rb[0] and len({space.key(c) for c in first}) == 4


def test_transfer_mean_follows_a_related_source_and_drops_a_reversed_one():
    """The prior mean's weight is learned: a source equal to the target gets a clear positive weight, one
    ranking configs in the opposite order next to none, and the related one predicts unseen points better."""
    from nago.strategies._gp import fit_model, fit_sources

    g = torch.Generator().manual_seed(0)
    f = lambda X: torch.sin(6 * X[:, 0]) + X[:, 1] ** 2  # noqa: E731
    Xs, Xt, Xq = torch.rand(60, 2, generator=g, dtype=torch.float64), torch.rand(6, 2, generator=g, dtype=torch.float64), \
        torch.rand(200, 2, generator=g, dtype=torch.float64)
    yt = f(Xt).unsqueeze(-1)
    err = {}
    for name, ys in (("related", f(Xs)), ("reversed", -f(Xs))):
        priors = fit_sources([[(Xs, ys)]], cat_dims=[])
        model = fit_model(Xt, yt, [None], [], priors=priors)
        w = float(model.mean_module.weight.detach())
        with torch.no_grad():
            err[name] = float((model.posterior(Xq).mean[:, 0] - f(Xq)).abs().mean())
        if name == "related":
            assert w > 0.3
        else:
            assert w < 0.1
    cold = fit_model(Xt, yt, [None], [])
    with torch.no_grad():
        err["cold"] = float((cold.posterior(Xq).mean[:, 0] - f(Xq)).abs().mean())
    assert err["related"] < 0.5 * err["cold"]
    assert err["reversed"] < 1.5 * err["cold"]  # never much worse than no prior


def test_search_section_and_cli_take_warm_starts(tmp_path):
    from nago.config.sections import SearchSection

    assert SearchSection.from_dict({"warm_start": "out/a"}).warm_start == ("out/a",)
    with pytest.raises(ConfigError, match="warm_start"):
        SearchSection.from_dict({"warm_start": [3]})
    src = _source(tmp_path)
    (tmp_path / "t.toml").write_text(textwrap.dedent(f"""
        [run]
        name = "t"
        space = "{tmp_path / 'mf.toml'}"
        [search]
        strategy = "moasha"
        trials = 4
        objectives = ["acc:max", "time:min"]
        warm_start = ["src"]
        [search.options.moasha]
        budgets = [4, 36]
        warm_init = 2
    """))
    from nago.cli import main

    assert main(["search", str(tmp_path / "t.toml"), "--no-progress", "--no-plots"]) == 0
    from nago.study.storage import TrialStore

    with TrialStore(tmp_path / "out" / "t" / "study.sqlite") as store:
        assert store.get_meta("identity")["warm_start"] == [str(src.resolve())]
        assert sum(t.info.get("source") == "warm" for t in store.trials([TrialState.COMPLETE])) == 2
