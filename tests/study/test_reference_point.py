"""The study's hypervolume reference point: the configured one reaches the strategy (defect 4), an
inferred one is fixed once and kept by the store, so the live number, a resume and the report agree
and a dominated point never moves the hypervolume (defect 10)."""

from __future__ import annotations

import re

import pytest
import torch

import nago.strategies.mobo as mobo_module
from nago.analysis.pareto import hypervolume, objective_matrix, reference_point
from nago.analysis.report import write_report
from nago.config.space import SearchSpace
from nago.errors import ConfigError
from nago.study.study import Study
from nago.study.trial import parse_objectives

SPACE = {"space": {"name": "toy"},
         "params": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "y": {"type": "float", "low": 0.0, "high": 1.0},
                    "n": {"type": "int", "low": 1, "high": 4}}}
OBJS = ["val_acc:max", "memory_mb:min"]
SMALL_MOBO = {"n_init": 3, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32}


def metrics(config, *, seed, fidelity):
    return {"val_acc": 1.0 - (config["x"] - 0.3) ** 2 - 0.1 * config["n"], "memory_mb": config["x"] + config["y"]}


def make(tmp_path, **kw) -> Study:
    args = dict(run_dir=tmp_path / "study", space=SearchSpace.from_dict(SPACE), objective=metrics, objectives=OBJS,
                strategy="random", seed=1)
    return Study(**{**args, **kw})


class Bar:
    """Stands in for tqdm: records the postfix."""

    n = 0

    def set_postfix(self, post, refresh=False):
        self.post = dict(post)

    def refresh(self):
        pass


def test_configured_ref_point_reaches_mobo_and_survives_resume(tmp_path, monkeypatch):
    seen = []
    original = mobo_module.qLogNoisyExpectedHypervolumeImprovement

    def spy(**kwargs):
        seen.append(kwargs["ref_point"].clone())
        return original(**kwargs)

    monkeypatch.setattr(mobo_module, "qLogNoisyExpectedHypervolumeImprovement", spy)
    study = make(tmp_path, strategy="mobo", strategy_options=SMALL_MOBO, ref_point=[0.0, 5.0])
    assert study.strategy.ref_point == [0.0, 5.0]
    study.optimize(n_trials=4, progress=False)
    gp = [t for t in study.trials if t.info["source"] == "qlognehvi"]
    assert gp and all(t.info["ref_point"] == [0.0, 5.0] for t in gp)  # raw units, not inferred from the data
    assert torch.equal(seen[0], torch.tensor([0.0, -5.0], dtype=torch.float64))  # maximisation sense
    study.close()
    resumed = make(tmp_path, strategy="mobo", strategy_options=SMALL_MOBO, resume=True)  # the store keeps it
    assert resumed.strategy.ref_point == [0.0, 5.0] and resumed.ref_point == [0.0, 5.0]
    resumed.close()


def test_a_different_strategy_ref_point_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"ref_point: the study's is \[0.0, 5.0\] but the strategy's option ref_point is \[1.0, 1.0\]"):
        make(tmp_path, strategy="mobo", strategy_options={**SMALL_MOBO, "ref_point": [1.0, 1.0]}, ref_point=[0.0, 5.0])
    assert not (tmp_path / "study").exists()  # refused before anything was created
    study = make(tmp_path, strategy="mobo", strategy_options={**SMALL_MOBO, "ref_point": [0.0, 5.0]}, ref_point=[0, 5])
    assert study.strategy.ref_point == [0.0, 5.0]
    study.close()


def test_inferred_reference_is_fixed_once_and_a_dominated_point_never_moves_the_hypervolume(tmp_path):
    study = make(tmp_path)
    k = study.ref_point_trials
    assert k == 2 * (3 + 1)
    study.optimize(n_trials=k - 1, progress=False)
    bar = Bar()
    study._update_bar(bar)
    assert study.ref_point is None and "hv" not in bar.post  # no live number on a provisional reference
    study.optimize(n_trials=k, progress=False)
    Y, _ = objective_matrix(study.trials, parse_objectives(OBJS))
    expected = reference_point(Y[:k], maximize=[True, False]).tolist()
    assert study.ref_point == pytest.approx(expected)
    assert study.store.get_meta("ref_point") == study.ref_point
    assert study.store.get_meta("ref_point_source") == f"inferred from the first {k} complete trials"
    hv = study.hypervolume()
    assert hv == pytest.approx(hypervolume(Y, maximize=[True, False], ref_point=expected)) and hv > 0
    study._update_bar(bar)
    assert bar.post["hv"] == f"{hv:.4g}"
    # dominated points, one worse than every trial in both objectives (it would move an inferred nadir)
    for m in ({"val_acc": -5.0, "memory_mb": 100.0}, {"val_acc": float(Y[:, 0].min()), "memory_mb": float(Y[:, 1].max())}):
        t = study.store.create(config={"x": 0.5, "y": 0.5, "n": 1}, seed=0)
        study.store.complete(t.id, metrics=m)
        assert study.hypervolume() == hv
        study._update_bar(bar)
        assert bar.post["hv"] == f"{hv:.4g}"
    study.optimize(n_trials=k + 6, progress=False)  # more trials: the reference stays
    assert study.ref_point == pytest.approx(expected)
    hv_end = study.hypervolume()
    study.close()
    resumed = make(tmp_path, resume=True)
    assert resumed.ref_point == pytest.approx(expected) and resumed.hypervolume() == hv_end
    assert resumed.strategy.ref_point is None  # an inferred reference is the study's, not handed to strategies
    resumed.close()
    md = write_report(tmp_path / "study", plots=False)["report.md"].read_text()
    assert f"**{hv_end:.6g}**" in md and f"set by the study: inferred from the first {k} complete trials" in md
    assert re.search(r"val_acc = [-0-9.]+, memory_mb = [0-9.]+", md)
