"""``nago bench surrogate``: a tiny table written in tmp_path, the --json shape, metrics, errors."""

from __future__ import annotations

import itertools
import json
import textwrap

import numpy as np
import pytest

from nago.benchmarks.bench.surrogate import pairwise_accuracy, split
from nago.cli import main


@pytest.fixture
def tiny(tmp_path):
    rows = ["a,b,c,acc"]
    for i, (a, b, c) in enumerate(itertools.product("xyz", "pq", [0, 1, 2, 3])):
        rows.append(f"{a},{b},{c},{'xyz'.index(a) * 2 + (b == 'q') + 0.3 * c + 0.01 * i}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "t.toml").write_text(textwrap.dedent("""
        [params.a]
        type = "categorical"
        choices = ["x", "y", "z"]
        [params.b]
        type = "categorical"
        choices = ["p", "q"]
        [params.c]
        type = "int"
        low = 0
        high = 3
        [table]
        csv = "t.csv"
        search = ["acc"]
        [table.metrics]
        acc = "max"
    """))
    return tmp_path / "t.toml"


def test_json_shape(tiny, capsys):
    argv = ["bench", "surrogate", str(tiny), "--train-sizes", "8,12", "--seeds", "2", "--steps", "40",
            "--encoders", "lstm,gnn", "--json"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["models"]) == {"nao-lstm", "nao-lstm+rank", "gp-onehot"}  # no graph view: no gnn
    for name, m in r["models"].items():
        assert m["train_size"] == [8, 12]
        for k in ("kendall_tau", "spearman_rho", "pairwise_acc"):
            assert len(m[k]) == 2 and all(-1 <= v <= 1 for v in m[k])
        assert all(0 <= v <= 1 for v in m["pairwise_acc"])
        assert m["reconstruction"] == [None, None] if name == "gp-onehot" else all(0 <= v <= 1 for v in m["reconstruction"])
    assert r["models"]["gp-onehot"]["kendall_tau"][-1] > 0.5  # an additive table is easy for the GP
    assert r["distinct"] == 24 and r["seeds"] == 2


def test_text_output_and_errors(tiny, capsys):
    assert main(["bench", "surrogate", str(tiny), "--train-sizes", "10", "--steps", "5", "--encoders", "transformer"]) == 0
    out = capsys.readouterr().out
    assert "| nao-transformer+rank | 10 |" in out and "| gp-onehot | 10 |" in out
    assert main(["bench", "surrogate", str(tiny), "--train-sizes", "30"]) == 2
    assert "leaves no test set" in capsys.readouterr().err
    assert main(["bench", "surrogate", str(tiny), "--encoders", "mlp"]) == 2


def test_pairwise_accuracy_and_split():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert pairwise_accuracy(y, y) == 1.0 and pairwise_accuracy(y, -y) == 0.0
    assert pairwise_accuracy(y, np.array([1.0, 3.0, 2.0, 4.0]), chunk=3) == pytest.approx(5 / 6)
    groups = np.array([0, 0, 1, 1, 2, 3, 4, 5])
    tr, te = split(groups, 2, seed=0, test_size=0)
    assert len(tr) == 2 and len(te) == 4 and len(set(groups[np.r_[tr, te]])) == 6  # one per group
    assert split(groups, 2, seed=0, test_size=3)[1].tolist() == te[:3].tolist()
