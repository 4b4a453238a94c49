"""Smoke tests of ``nago bench mobo-synthetic`` on tiny settings, through the CLI and ``run()``."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from nago.benchmarks.bench import mobo_synthetic as bench
from nago.cli import main
from nago.errors import ConfigError


def _args(**over) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args([])
    for k, v in over.items():
        setattr(args, k, v)
    return args


def test_bench_mobo_synthetic_tiny(capsys):
    argv = ["bench", "mobo-synthetic", "--json", "--problems", "BraninCurrin", "--seeds", "1", "--evals", "10",
            "--ask-observations", "10", "--ask-repeats", "1", "--threads", "1"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["seeds"], r["evals"], r["batch"], r["threads"]) == (1, 10, 4, 1)
    assert r["checkpoints"] == [3, 5, 8, 10] and r["objectives"] == ["f1:min", "f2:min"]
    (p,) = r["problems"]
    assert p["problem"] == "BraninCurrin" and p["dim"] == 2 and p["ref_point"] == [18.0, 6.0]
    rows = {s["strategy"]: s for s in p["strategies"]}
    assert set(rows) == {"mobo", "random"}
    for s in rows.values():
        (run,) = s["runs"]
        hist = run["hv_history"]
        assert len(hist) == 10 and run["failed"] == 0 and sum(run["sources"].values()) == 10
        assert all(a <= b for a, b in zip(hist, hist[1:])) and 0 < hist[-1] <= p["max_hv"]
        assert run["hv"] == pytest.approx(hist[-1]) == pytest.approx(s["final"]["mean"])
        assert s["hv"]["10"]["mean"] == pytest.approx(hist[-1]) and s["final"]["std"] == 0.0
    # d=2 -> n_init 6: asks at 0 and 4 finished trials are Sobol (the design random search also starts
    # with, same seed), the ask at 8 is the GP's (2 = what is left of the 10)
    mobo, rand = rows["mobo"]["runs"][0], rows["random"]["runs"][0]
    assert mobo["sources"] == {"sobol": 8, "qlognehvi": 2}
    assert mobo["hv_history"][:8] == rand["hv_history"][:8]
    c = p["mobo_vs_random"]
    assert c["seeds"] == 1 and c["mean_diff"] == pytest.approx(mobo["hv"] - rand["hv"])
    assert c["beats"] == (mobo["hv"] > rand["hv"])
    (a,) = r["ask_timing"]
    assert (a["observations"], a["q"], a["d"]) == (10, 4, 8) and len(a["seconds"]) == 1
    assert a["sources"] == ["qlognehvi"] and a["median_s"] > 0
    assert "machine" in r and len(r["load_average"]) == 2
    text = bench.format(r)
    assert "BraninCurrin" in text and "mobo beats random: " in text and "10 observations" in text


def test_problem_matches_botorch():
    prob = bench.Problem(name="dtlz2")
    assert prob.dim == 8 and prob.space().names == [f"x{i}" for i in range(8)]
    x = {f"x{i}": 0.5 for i in range(8)}
    want = prob.fn(torch.full((1, 8), 0.5, dtype=torch.float64))[0].tolist()  # negate=False: minimised values
    assert list(prob(x, seed=0, fidelity=None).values()) == pytest.approx(want)


def test_compare_needs_majority_of_seeds():
    runs = {"mobo": [{"hv": 3.0}, {"hv": 1.0}, {"hv": 1.0}], "random": [{"hv": 1.5}, {"hv": 1.5}, {"hv": 1.5}]}
    c = bench.compare(runs)
    assert c["mean_diff"] == pytest.approx(1 / 6) and c["wins"] == 1 and c["beats"] is False
    assert bench.compare({"mobo": runs["mobo"]}) is None


@pytest.mark.parametrize(
    "over, match",
    [
        ({"problems": "zdt1"}, "--problems: got 'zdt1'; allowed: .*branincurrin, dtlz2"),
        ({"strategies": "mobo,grid"}, "--strategies: got 'mobo,grid'; allowed: .*random"),
        ({"seeds": 0}, "--seeds: got 0; allowed: an integer >= 1"),
        ({"batch": -1}, "--batch: got -1"),
        ({"ask_observations": "50,x"}, "--ask-observations: got '50,x'"),
    ],
)
def test_bad_options(over, match):
    with pytest.raises(ConfigError, match=match):
        bench.run(_args(**over))
