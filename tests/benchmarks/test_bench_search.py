"""``nago bench search``: the CLI on NB201 and on a small table, the curves, options and errors."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from nago.benchmarks.bench import search as bench
from nago.cli import main
from nago.errors import ConfigError
from nago.objectives.table import load_table_space

from _paths import SPACES


def test_bench_search_nb201_json(capsys, tmp_path):
    argv = ["bench", "search", str(SPACES / "nb201.toml"), "--strategies", "random,rea", "--seeds", "2", "--queries", "15",
            "--set", "rea.population=5", "--json", "--out", str(tmp_path)]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["strategies"]) == {"random", "rea"} and r["options"] == {"rea": {"population": 5}}
    for s in r["strategies"].values():
        assert s["queries"] == list(range(1, 16)) and len(s["best_test_mean"]) == len(s["best_test_std"]) == 15
        assert "hv_ratio_mean" not in s and s["distinct_mean"] == 15  # neither repeats
        assert all(a <= b for a, b in zip(s["best_search_mean"], s["best_search_mean"][1:]))
        assert 85 < s["best_test_mean"][-1] <= 94.38 and sum(s["sources"].values()) == 30
    assert r["optimum"]["row"] == 6111
    assert {p.name for p in tmp_path.iterdir()} == {"results.json", "results.md", "best_test.png", "best_test_cost.png", "runs"}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [f"{s}-s{i}.json" for s in ("random", "rea") for i in (0, 1)]
    assert all(s["cost_total_mean"] == 15 for s in r["strategies"].values())  # no fidelities: a query costs 1
    assert "| rea |" in (tmp_path / "results.md").read_text()


def test_curves_and_hv_ratio_on_a_small_table(tmp_path):
    (tmp_path / "t.csv").write_text("a,acc,test,cost\nx,1,10,1\ny,3,30,3\nz,2,20,1\n")
    (tmp_path / "t.toml").write_text(textwrap.dedent("""
        [params.a]
        type = "categorical"
        choices = ["x", "y", "z"]
        [table]
        csv = "t.csv"
        search = ["acc", "cost"]
        report = ["test"]
        ref_point = [0, 4]
        [table.metrics]
        acc = "max"
        test = "max"
        cost = "min"
    """))
    _, table = load_table_space(tmp_path / "t.toml")
    c = bench.curves(table, [0, -1, 2, 1])  # x, a failed query, z, y
    assert c["best_test"] == [10, 10, 20, 30] and c["best_search"] == [1, 1, 2, 3]
    # true front: y (3, 3) and z (2, 1): HV = 2*3 + 1*(3-2)... computed in the maximisation sense
    total = 3 * 1 + 2 * 2  # y: acc 3 x (4-3); z adds acc 2 x (3-1)
    np.testing.assert_allclose(c["hv_ratio"], np.array([1 * 3, 1 * 3, 2 * 3, total]) / total)
    assert c["front_share"] == [0, 0, 0.5, 1]  # the front is {y, z}; x is dominated by z
    # without ref_point the reference is the table's worst corner (acc 1, cost 3), as NB201 MO comparisons use
    (tmp_path / "t.toml").write_text((tmp_path / "t.toml").read_text().replace("ref_point = [0, 4]\n", ""))
    _, nadir_table = load_table_space(tmp_path / "t.toml")
    assert bench.true_hypervolume(nadir_table) == ([1.0, 3.0], 2.0)  # only z adds area: (2-1) x (3-1)
    np.testing.assert_allclose(bench.curves(nadir_table, [0, -1, 2, 1])["hv_ratio"], [0, 0, 1, 1])
    runs = [{"strategy": "s", "seed": 0, "rows": [0, 1, 2], "seconds": 1.0}, {"strategy": "s", "seed": 1, "rows": [2, 2, 0], "seconds": 3.0}]
    s = bench.summarise(table, runs, 3)
    assert s["sources"] == {} and s["optimum_found"] == 1 and s["distinct_mean"] == 2.5 and s["seconds_mean"] == 2.0
    # the optimum (row 1) counts as found only when queried at the highest fidelity
    low = [{"strategy": "s", "seed": 0, "rows": [1, 2, 1], "full": [False, True, f], "seconds": 1.0} for f in (False, True)]
    assert [bench.summarise(table, [r], 3)["optimum_found"] for r in low] == [0, 1]
    assert s["best_test_mean"] == [15, 25, 25] and s["best_test_std"] == [5, 5, 5]
    assert "hv_ratio_mean" in s and s["front_share_mean"] == [0.25, 0.5, 0.75]
    assert "front found @3" in bench.markdown({"queries_total": 3, "search": ["acc", "cost"], "report": "test", "seeds": 2,
                                               "strategies": {"s": s}})


def test_front_found_counts_front_rows_not_their_isomorphic_duplicates(tmp_path):
    """A dedupe group (isomorphic cells, trained separately) can hold a front row and a row off the front;
    querying the one off the front used to count the group as found."""
    (tmp_path / "t.csv").write_text("a,acc,cost,iso\nx,3,3,g1\ny,1,3,g1\nz,2,1,g2\nw,2,1,g2\nv,1,2,g3\n")
    (tmp_path / "t.toml").write_text(textwrap.dedent("""
        [params.a]
        type = "categorical"
        choices = ["x", "y", "z", "w", "v"]
        [table]
        csv = "t.csv"
        search = ["acc", "cost"]
        dedupe = "iso"
        [table.metrics]
        acc = "max"
        cost = "min"
    """))
    _, table = load_table_space(tmp_path / "t.toml")
    on_front, groups = bench.true_front(table)
    assert on_front.tolist() == [True, False, True, True, False] and len(groups) == 2  # x (g1); z, w (g2, equal)
    assert bench.curves(table, [1, 4, 3, 2, 0])["front_share"] == [0, 0, 0.5, 0.5, 1]  # y and v find nothing


@pytest.mark.parametrize("argv, match", [
    (["--strategies", "random,nope"], "unknown strategy 'nope'"),
    (["--seeds", "0"], "--seeds: got 0"),
    (["--cost", "0"], "--cost: got 0.0"),
    (["--set", "mobo.n_init=3"], r"--set 'mobo.n_init=3': expected STRATEGY.OPTION=VALUE with STRATEGY one of random"),
])
def test_bad_arguments(argv, match):
    import argparse

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args([str(SPACES / "nb201.toml"), "--strategies", "random", *argv])
    with pytest.raises(ConfigError, match=match):
        bench.run(args)


def test_not_a_table_space():
    import argparse

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    with pytest.raises(ConfigError, match=r"no \[table\] section"):
        bench.run(p.parse_args([str(SPACES / "hnag.toml"), "--strategies", "random", "--seeds", "1", "--queries", "2"]))


def test_at_costs_reads_a_curve_by_cost_spent():
    assert bench.at_costs([2, 1, 3], [0.1, 0.5, 0.7], [1, 2, 2.5, 3, 6, 7]) == pytest.approx(
        [np.nan, 0.1, 0.1, 0.5, 0.7, np.nan], nan_ok=True)


def test_cost_budget_and_fidelities_on_a_small_table(tmp_path, capsys):
    """moasha gets the table's fidelities as budgets, stops once the cost is spent, and only its
    highest-fidelity queries count; random queries the highest fidelity only."""
    from _mf_table import write_mf_table

    path = write_mf_table(tmp_path)
    argv = ["bench", "search", str(path), "--strategies", "random,moasha", "--seeds", "2", "--cost", "4", "--json",
            "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["cost_checkpoints"] == [] and r["cost_limit"] == 4
    for name, s in r["strategies"].items():
        for run in s["runs"]:
            spent = np.cumsum(run["costs"])
            assert spent[-1] >= 4 and spent[-2] < 4  # stopped at the first query that reached the budget
            assert all(run["full"]) == (name == "random")
            # a curve moves only on highest-fidelity queries
            moved = [k for k in range(1, len(run["hv_ratio"])) if run["hv_ratio"][k] != run["hv_ratio"][k - 1]]
            assert all(run["full"][k] for k in moved)
        assert len(s["hv_ratio_cost_mean"]) == len(s["cost"])
    _, table = load_table_space(path)
    assert bench.strategy_options(table, "moasha", {}) == {"budgets": [4.0, 36.0]}
    assert bench.strategy_options(table, "moasha", {"max_budget": 36}) == {"max_budget": 36}
    assert bench.strategy_options(table, "random", {}) == {}
    assert (tmp_path / "out" / "hv_ratio_cost.png").is_file()


def test_warm_start_runs_sources_once_labels_warm_runs_and_resumes(tmp_path, capsys):
    """NAME+warm runs warm-started from per-seed source studies (seed 1000 + s, kept and reused); the
    sources optimise the source table's metrics in their own direction, or reversed with --warm-reverse;
    finished runs are read back by a second invocation."""
    from _mf_table import write_mf_table

    from nago.study.storage import TrialStore

    path = write_mf_table(tmp_path)
    base = ["bench", "search", str(path), "--seeds", "2", "--queries", "6", "--warm-start", str(path),
            "--warm-source-strategy", "random", "--warm-source-queries", "8", "--json", "--set", "moasha+warm.warm_init=3"]
    for reverse in (False, True):
        out = tmp_path / f"out-{reverse}"
        argv = base + ["--strategies", "moasha,moasha+warm", "--out", str(out)] + (["--warm-reverse"] if reverse else [])
        assert main(argv) == 0
        r = json.loads(capsys.readouterr().out)
        assert set(r["strategies"]) == {"moasha", "moasha+warm"} and r["warm_start"]["reverse"] == reverse
        assert r["warm_start"]["seeds"] == [1000, 1001]
        warm = r["strategies"]["moasha+warm"]
        assert warm["sources"]["warm"] == 6 and "warm" not in r["strategies"]["moasha"]["sources"]
        sources = sorted((out / "sources").iterdir())
        assert [p.name for p in sources] == [f"mf-random-q8{'-reversed' if reverse else ''}-s{s}" for s in (0, 1)]
        with TrialStore(sources[0] / "study.sqlite") as store:
            assert store.get_meta("objectives") == (["acc:min", "time:max"] if reverse else ["acc:max", "time:min"])
            assert store.get_meta("identity")["seed"] == 1000 and store.count() == 8
    # a second invocation reads the finished runs back (same rows) instead of running them again
    kept = json.loads((out / "runs" / "moasha+warm-s1.json").read_text())
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["strategies"]["moasha+warm"]["runs"][1]["seconds"] == kept["run"]["seconds"]


def test_warm_source_options_reach_the_source_strategy(tmp_path, capsys):
    """--warm-source-set OPTION=V configures the source studies' strategy; each set of options keeps its own
    source directories (a kept source of other options is never reused)."""
    from _mf_table import write_mf_table

    path = write_mf_table(tmp_path)
    argv = ["bench", "search", str(path), "--seeds", "1", "--queries", "4", "--warm-start", str(path), "--json",
            "--strategies", "moasha+warm", "--warm-source-strategy", "rea", "--warm-source-queries", "6",
            "--out", str(tmp_path / "out")]
    assert main(argv + ["--warm-source-set", "population=4"]) == 0
    assert json.loads(capsys.readouterr().out)["warm_start"]["options"] == {"population": 4}
    assert [p.name for p in (tmp_path / "out" / "sources").iterdir()] == ["mf-rea-population=4-q6-s0"]
    for bad, error in (("bogus=1", "strategy 'rea': unknown option(s) ['bogus']"), ("population", "--warm-source-set expects NAME=VALUE")):
        assert main(argv + ["--warm-source-set", bad]) == 2
        assert error in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["--strategies", "random,random+warm", "--warm-start", "S"], "random takes no warm start"),
    (["--strategies", "mobo+warm"], "need --warm-start"),
    (["--strategies", "mobo", "--warm-start", "S"], "no NAME\\+warm label"),
    (["--strategies", "mobo", "--warm-source-set", "features=nb201-paths"], "--warm-source-set: no NAME\\+warm label"),
])
def test_warm_start_arguments(argv, match):
    import argparse

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args([str(SPACES / "nb201.toml"), "--seeds", "1", "--queries", "2", *argv])
    with pytest.raises(ConfigError, match=match):
        bench.run(args)
