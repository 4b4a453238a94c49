"""``nago bench generators``: the CLI end to end on a tiny digits run (JSON, one reference point, final
re-training, resume), the hypervolume-at-budget rule on hand-made numbers, budgets and options."""

from __future__ import annotations

import json
import math
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from nago.analysis.pareto import hypervolume, reference_point
from nago.benchmarks.bench import generators as bench
from nago.benchmarks.bench import generators_figures as figures
from nago.cli import main
from nago.errors import ConfigError
from nago.study.storage import TrialStore

from _toml import toml_lines as _toml
from _paths import RUNS, SPACES


def write_tiny(folder: Path, *, fidelity: int = 1) -> Path:
    """runs/digits.toml with a tiny budget on a small-graph HNAG space (and a small RNAG space next to it)."""
    space = tomllib.loads((SPACES / "hnag.toml").read_text())
    for name, (low, high) in {"N_t": (3, 4), "N_m": (1, 2), "N_b": (3, 4), "K_t": (2, 3), "K_b": (2, 3)}.items():
        space["params"][name].update(low=low, high=high)
    (folder / "hnag.toml").write_text("\n".join(_toml(space)) + "\n")
    rnag = tomllib.loads((SPACES / "rnag.toml").read_text())
    rnag["params"]["N_b"].update(low=4, high=6)
    (folder / "rnag.toml").write_text("\n".join(_toml(rnag)) + "\n")
    raw = tomllib.loads((RUNS / "digits.toml").read_text())
    raw["run"].update(name="tiny", space="hnag.toml")
    raw["data"]["max_train"] = 300
    raw["model"].update(param_limit=[2e3, 2e4], head_width=16)
    raw["train"].update(progress=False, epochs=1)
    raw["evaluate"]["device"] = "cpu"
    raw["search"].update(fidelity=fidelity, options={"mobo": {"n_init": 2, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32}})
    path = folder / "tiny.toml"
    path.write_text("\n".join(_toml(raw)) + "\n")
    return path


def _stores(out: Path) -> dict[str, list[tuple[int, str, float]]]:
    """Per run directory: (id, state, finished) of each trial."""
    found = {}
    for store in sorted(out.glob("*-s*/study.sqlite")):
        with TrialStore(store) as s:
            found[store.parent.name] = [(t.id, t.state.value, t.finished) for t in s.trials()]
    return found


def test_hv_at_budgets_on_hand_made_numbers():
    # val_acc:max, memory_mb:min; trial 2 failed (NaN row) and cost half a trial (a low-fidelity one)
    Y = [[0.5, 2.0], [math.nan, math.nan], [0.8, 3.0], [0.6, 1.0]]
    costs = [1.0, 0.5, 1.0, 1.0]  # cumulative 1, 1.5, 2.5, 3.5
    hv = figures.hv_at(Y, costs, maximize=[True, False], ref_point=[0.0, 4.0], at=[0.5, 1, 2, 3, 4])
    # 0 (nothing done) | 0.5*2 | same (the failed trial adds nothing) | + (0.8-0.5)*(4-3) | (0.8,3),(0.6,1): 0.8*1 + 0.6*2
    assert hv == pytest.approx([0.0, 1.0, 1.0, 1.3, 2.0])
    assert figures.hv_at(np.zeros((0, 2)), [], maximize=[True, False], ref_point=[0, 4], at=[8]) == [0.0]
    assert figures.checkpoints(24) == [8, 16, 24] and figures.checkpoints(20) == [8, 16, 20] and figures.checkpoints(5) == [5]


def test_bohb_budgets_follow_the_fidelity():
    assert bench.bohb_budgets(120) == {"max_budget": 120, "min_budget": 30, "eta": 2}  # the paper's 30/60/120
    assert bench.bohb_budgets(3) == {"max_budget": 3, "min_budget": 1.0, "eta": 3}  # whole epochs: 1 and 3
    assert bench.bohb_budgets(1) == {"max_budget": 1, "min_budget": 1, "eta": 2}


def test_run_config_options_and_rnag_space(tmp_path):
    run = write_tiny(tmp_path, fidelity=3)
    rnag = str(tmp_path / "rnag.toml")
    rc, opts = bench.run_config(str(run), "bohb", "bohb", {}, rnag)
    assert opts == {"max_budget": 3.0, "min_budget": 1.0, "eta": 3.0} and rc.search.strategy == "bohb"
    _, opts = bench.run_config(str(run), "bohb", "bohb", {"min_budget": 1.5}, rnag)
    assert opts == {"min_budget": 1.5}  # a budget option given: the bench adds none
    _, opts = bench.run_config(str(run), "nao", "nao", {}, rnag)
    assert opts == {"n_init": 2}  # the run's mobo n_init: the same initial design for every model
    _, opts = bench.run_config(str(run), "optuna-tpe", "optuna-tpe", {"n_startup_trials": 5}, rnag)
    assert opts == {"n_startup_trials": 5}
    rc, opts = bench.run_config(str(run), "rnag-mobo", "mobo", {"n_init": 3}, rnag)
    assert opts["n_init"] == 3 and opts["raw_samples"] == 32
    assert rc.space.names == ["N_b", "K_b", "P_b", "param_limit"]  # the RNAG space, the run's searched budget
    assert bench.parse_labels("mobo, rnag-random") == [("mobo", "mobo"), ("rnag-random", "random")]
    for bad in ("mobo,nope", "rnag-nope", "mobo,mobo", ","):
        with pytest.raises(ConfigError, match="--strategies"):
            bench.parse_labels(bad)


@pytest.mark.parametrize("argv, needle", [
    (["--seeds", "0"], "--seeds"), (["--final-samples", "2"], "--final-samples"),
    (["--set", "nao.n_init=3"], "STRATEGY one of random, mobo"), (["--rnag-space", "nowhere.toml", "--strategies", "rnag-mobo"], "--rnag-space"),
    (["--set", "mobo.bogus=1"], "bogus"),
])
def test_bench_generators_user_errors(tmp_path, capsys, argv, needle):
    run = write_tiny(tmp_path)
    assert main(["bench", "generators", str(run), "--strategies", "random,mobo", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing ran


def test_bench_generators_end_to_end_and_resume(tmp_path, capsys):
    run, out = write_tiny(tmp_path), tmp_path / "bench"
    argv = ["bench", "generators", str(run), "--strategies", "random,mobo", "--seeds", "1", "--trials", "4", "--every", "2",
            "--final-epochs", "1", "--out", str(out), "--json"]
    t0 = time.perf_counter()
    assert main(argv) == 0
    first = time.perf_counter() - t0
    captured = capsys.readouterr()
    r = json.loads(captured.out)
    assert "random-s0: 1/4 trial #1 complete" in captured.err and "[2/2] mobo-s0" in captured.err  # progress on stderr
    assert r["checkpoints"] == [2, 4] and r["fidelity"] == 1.0 and r["objectives"] == ["val_acc:max", "memory_mb:min"]
    assert set(r["labels"]) == {"random", "mobo"} and r["labels"]["mobo"]["options"]["n_init"] == 2
    maximize = [True, False]
    observed = np.concatenate([np.array(s["observed"]) for s in r["labels"].values()])
    assert len(observed) == 8
    # one reference point for every run: the pareto rule over the union of all runs' observations
    assert r["ref_point"] == pytest.approx(reference_point(observed, maximize=maximize).tolist())
    for label, s in r["labels"].items():
        assert len(s["hv_mean"]) == len(s["hv_std"]) == 2 and len(s["curve_mean"]) == 4
        (one,) = s["runs"]
        assert one["dir"] == str(out / f"{label}-s0") and one["trials"] == one["full_fidelity"] == 4 and one["seconds"] > 0
        assert one["hv"][-1] == pytest.approx(hypervolume(np.array(s["observed"]), maximize=maximize, ref_point=r["ref_point"]))
        assert s["hv_mean"] == one["hv"] and s["hv_std"] == [0.0, 0.0] and 0 < s["hv_mean"][0] <= s["hv_mean"][1]
        assert s["front"] and s["best"]["values"][0] == max(v[0] for v in s["observed"])
        t = s["timing"]
        assert t["trials"] == 4 and t["train"] > 0 and t["generate"] > 0 and t["build"] > 0 and t["profile"] > 0
        assert 0 < t["not_training_trial"] < 1 and 0 < t["not_training_run"] < 1
        f = r["final"][label]
        assert f["samples"] == 3 and f["epochs"] == 1.0 and len(f["test_acc"]) == 3 and f["config"] == s["best"]["config"]
        assert 0 <= f["test_acc_mean"] <= 1 and f["memory_mb_mean"] > 0 and f["test_acc_std"] >= 0
    assert {p.name for p in out.iterdir()} >= {"results.json", "results.md", "hv.png", "fronts.png", "final", "random-s0", "mobo-s0"}
    assert "| mobo |" in (out / "results.md").read_text()

    # a second invocation reads the finished studies and the kept finals: nothing re-runs
    before, final_mtime = _stores(out), (out / "final" / "mobo.json").stat().st_mtime
    t0 = time.perf_counter()
    assert main(argv) == 0
    assert time.perf_counter() - t0 < first
    again = json.loads(capsys.readouterr().out)
    assert _stores(out) == before and (out / "final" / "mobo.json").stat().st_mtime == final_mtime
    assert again["labels"]["mobo"]["hv_mean"] == r["labels"]["mobo"]["hv_mean"] and again["ref_point"] == r["ref_point"]

    # more trials: the finished runs resume (their trials kept) and go on
    assert main([*argv, "--trials", "5", "--no-final"]) == 0
    more = json.loads(capsys.readouterr().out)
    assert more["final"] is None and more["checkpoints"] == [2, 4, 5]
    after = _stores(out)
    assert all(after[k][:4] == before[k] and len(after[k]) == 5 for k in before)

    # other strategy options cannot resume a run made with different ones
    assert main([*argv, "--set", "mobo.n_init=3"]) == 2
    assert "mobo options" in capsys.readouterr().err


def test_bench_generators_warm_start_per_seed_source(tmp_path, capsys):
    run = write_tiny(tmp_path)
    src = tmp_path / "src"
    assert main(["bench", "generators", str(run), "--strategies", "random", "--seeds", "1", "--trials", "3",
                 "--no-final", "--out", str(src)]) == 0
    capsys.readouterr()
    out = tmp_path / "warm"
    base = ["bench", "generators", str(run), "--seeds", "1", "--trials", "2", "--no-final", "--out", str(out)]
    for argv, needle in [(["--strategies", "mobo+warm"], "need --warm-start"),
                         (["--strategies", "mobo", "--warm-start", str(src / "random-s{seed}")], "no NAME+warm label"),
                         (["--strategies", "random+warm", "--warm-start", str(src / "random-s{seed}")], "takes no warm start"),
                         (["--strategies", "mobo+warm", "--warm-start", str(src / "nowhere-s{seed}")], "warm start")]:
        assert main([*base, *argv]) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err
        assert not out.exists()  # checked before anything ran
    assert main([*base, "--strategies", "mobo+warm", "--set", "mobo+warm.warm_init=1",
                 "--warm-start", str(src / "random-s{seed}"), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["warm_start"] == [str(src / "random-s{seed}")] and r["labels"]["mobo+warm"]["options"]["warm_init"] == 1
    with TrialStore(src / "random-s0" / "study.sqlite") as s:
        source = s.trials()
    with TrialStore(out / "mobo+warm-s0" / "study.sqlite") as s:
        (first, second) = s.trials()
        warm = s.get_meta("warm_start")
    points = [(t.metrics["val_acc"], -t.metrics["memory_mb"]) for t in source]
    front = [t.config for t, p in zip(source, points) if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]
    assert first.info["source"] == "warm" and first.config in front  # warm_init 1: a config of the source's front
    assert second.info["source"] != "warm"
    assert warm[0]["path"] == str((src / "random-s0").resolve()) and len(warm[0]["configs"]) == 3
