from __future__ import annotations

import builtins
import csv

import numpy as np
import pytest

from nago.errors import NagoError
from nago.analysis.pareto import hypervolume
from nago.analysis.plots import front_steps
from nago.analysis.report import markdown_table, write_report
from nago.study.storage import TrialStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# (config, fidelity, outcome): outcome is metrics for complete trials, (kind, message) for failed ones
TRIALS = [
    ({"N": 3, "P": 0.1}, 10, {"val_acc": 0.80, "memory_mb": 50.0, "params": 1e5}),  # 1 front
    ({"N": 4, "P": 0.2}, 10, {"val_acc": 0.90, "memory_mb": 120.0, "params": 2e5}),  # 2 front
    ({"N": 5, "P": 0.3}, 10, {"val_acc": 0.70, "memory_mb": 90.0, "params": 3e5}),  # 3 dominated by 1
    ({"N": 6, "P": 0.4}, 10, ("oom", "CUDA out of memory | tried to allocate 2 GiB")),  # 4
    ({"N": 7, "P": 0.5}, 10, {"val_acc": 0.85, "memory_mb": 80.0, "params": 4e5}),  # 5 front
    ({"N": 8, "P": 0.6}, 10, ("nan", "loss became NaN at epoch 3")),  # 6
    ({"N": 9, "P": 0.7}, 10, ("oom", "CUDA out of memory")),  # 7
    ({"N": 3, "P": 0.9}, 10, {"val_acc": 0.60, "memory_mb": 200.0, "params": 5e5}),  # 8 dominated
]


def make_run(run_dir, trials=TRIALS, *, objectives=("val_acc:max", "memory_mb:min"), ref_point=None):
    with TrialStore(run_dir / "study.sqlite") as store:
        if objectives is not None:
            store.set_meta("objectives", list(objectives))
        store.set_meta("run_name", "toy")
        if ref_point is not None:
            store.set_meta("ref_point", ref_point)
        for config, fidelity, outcome in trials:
            t = store.create(config=config, seed=7, fidelity=fidelity)
            store.mark_running(t.id)
            if isinstance(outcome, dict):
                store.complete(t.id, metrics=outcome)
            else:
                store.fail(t.id, kind=outcome[0], message=outcome[1])
        store.create(config={"N": 4, "P": 0.5}, seed=8, fidelity=10)  # still waiting
    return run_dir


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_write_report_files_and_tables(tmp_path):
    out = write_report(make_run(tmp_path))
    assert set(out) == {"trials.csv", "pareto.csv", "report.md", "pareto.png", "hypervolume.png"}
    assert all(p.is_file() and p.parent == tmp_path for p in out.values())

    rows = read_csv(out["trials.csv"])
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 10)]
    assert list(rows[0])[:8] == ["id", "state", "fidelity", "seed", "fail_kind", "message", "N", "P"]
    assert list(rows[0])[8:] == ["val_acc", "memory_mb", "params", "duration_s"]
    assert rows[3]["state"] == "failed" and rows[3]["fail_kind"] == "oom" and rows[3]["val_acc"] == ""
    assert rows[3]["message"].startswith("CUDA out of memory | tried")
    assert rows[1]["val_acc"] == "0.9" and rows[1]["N"] == "4" and float(rows[1]["duration_s"]) >= 0
    assert rows[8]["state"] == "waiting" and rows[8]["duration_s"] == ""

    front = read_csv(out["pareto.csv"])
    assert [r["id"] for r in front] == ["2", "5", "1"]  # best val_acc first
    assert list(front[0])[:5] == ["id", "fidelity", "seed", "N", "P"]
    assert front[0]["memory_mb"] == "120.0"

    for name in ("pareto.png", "hypervolume.png"):
        data = out[name].read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000

    md = out["report.md"].read_text()
    assert "# nago report: toy" in md
    assert "| failed | 3 |" in md and "| complete | 5 |" in md and "| waiting | 1 |" in md
    assert "| oom | 2 |" in md and "| nan | 1 |" in md
    assert "loss became NaN at epoch 3" in md and "CUDA out of memory \\| tried" in md  # pipes escaped
    assert "`val_acc`: maximise" in md and "`memory_mb`: minimise" in md
    assert "| id | fidelity | val_acc | memory_mb | N | P |" in md
    assert "| val_acc:max | 0.9 | 2 | 10 |" in md and "| memory_mb:min | 50 | 1 | 10 |" in md
    assert "![Pareto front](pareto.png)" in md and "![Hypervolume over trials](hypervolume.png)" in md


def test_hypervolume_and_reference_point_rules(tmp_path):
    Y = np.array([[0.8, 50.0], [0.9, 120.0], [0.7, 90.0], [0.85, 80.0], [0.6, 200.0]])
    # computed: worst - 10% of range -> (0.6 - 0.03, 200 + 15)
    md = write_report(make_run(tmp_path / "a"), plots=False)["report.md"].read_text()
    expected = hypervolume(Y, maximize=[True, False], ref_point=[0.57, 215.0])
    assert f"**{expected:.6g}**" in md and "val_acc = 0.57, memory_mb = 215" in md
    # stored by the study (raw units)
    md = write_report(make_run(tmp_path / "b", ref_point=[0.5, 300.0]), plots=False)["report.md"].read_text()
    assert f"**{hypervolume(Y, maximize=[True, False], ref_point=[0.5, 300.0]):.6g}**" in md
    assert "set by the study" in md
    # an explicit argument wins
    out = write_report(tmp_path / "b", ref_point=[0.0, 1000.0], plots=False)
    assert f"**{hypervolume(Y, maximize=[True, False], ref_point=[0.0, 1000.0]):.6g}**" in out["report.md"].read_text()
    assert set(out) == {"trials.csv", "pareto.csv", "report.md"}


def test_front_uses_highest_fidelity_only(tmp_path):
    trials = [
        ({"N": 3}, 30, {"val_acc": 0.99, "memory_mb": 1.0}),  # would dominate everything, but low fidelity
        ({"N": 4}, 120, {"val_acc": 0.90, "memory_mb": 100.0}),
        ({"N": 5}, 120, {"val_acc": 0.80, "memory_mb": 50.0}),
        ({"N": 6}, 120, {"val_acc": 0.70, "memory_mb": 60.0}),
        ({"N": 7}, 240, ("timeout", "over budget")),  # failed trials do not set the front fidelity
    ]
    out = write_report(make_run(tmp_path, trials))
    assert [r["id"] for r in read_csv(out["pareto.csv"])] == ["2", "3"]
    md = out["report.md"].read_text()
    assert "3 complete trials at fidelity 120, the highest among complete trials" in md
    assert out["pareto.png"].read_bytes()[:8] == PNG_MAGIC


def test_objective_argument_and_single_objective(tmp_path):
    run = make_run(tmp_path, objectives=None)
    with pytest.raises(NagoError, match="no 'objectives' meta; pass objectives"):
        write_report(run)
    out = write_report(run, objectives=["memory_mb:min"])
    assert [r["id"] for r in read_csv(out["pareto.csv"])] == ["1"]
    md = out["report.md"].read_text()
    assert "**165**" in md  # ref = worst 200 + 0.1 * range 150 = 215; best 50 improves on it by 165
    assert out["pareto.png"].read_bytes()[:8] == PNG_MAGIC


def test_no_complete_trials(tmp_path):
    trials = [({"N": 3}, None, ("invalid", "K >= N"))]
    out = write_report(make_run(tmp_path, trials))
    assert set(out) == {"trials.csv", "pareto.csv", "report.md"}
    assert read_csv(out["pareto.csv"]) == []
    md = out["report.md"].read_text()
    assert "| invalid | 1 |" in md and "No hypervolume yet" in md and "No complete trial" in md


def test_missing_store_and_bad_objectives(tmp_path):
    with pytest.raises(NagoError, match=r"study.sqlite: no trial store"):
        write_report(tmp_path)
    with pytest.raises(NagoError, match="no trial store"):
        write_report(tmp_path / "nope")
    make_run(tmp_path)
    with pytest.raises(NagoError, match="expected 'METRIC:max'"):
        write_report(tmp_path, objectives=["val_acc:up"])
    with pytest.raises(NagoError, match=r"ref_point=\[1.0\]: expected 2"):
        write_report(tmp_path, ref_point=[1.0], plots=False)


def test_missing_matplotlib_is_actionable(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(NagoError, match="pip install matplotlib"):
        write_report(make_run(tmp_path))


def test_markdown_table():
    text = markdown_table([{"a": 1, "b": 0.123456, "c": "x|y"}, {"a": None, "c": "two\nlines"}], ["a", "b", "c"])
    assert text.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1 | 0.1235 | x\\|y |", "|  |  | two lines |"]


def test_front_steps_follow_the_dominated_boundary():
    # max/max: (1,3), (2,2), (3,1) -> (1,3) down to (1,2), across to (2,2), down to (2,1), across to (3,1)
    xs, ys = front_steps(np.array([[3.0, 1.0], [1.0, 3.0], [2.0, 2.0]]), [True, True])
    assert xs.tolist() == [1, 1, 2, 2, 3] and ys.tolist() == [3, 2, 2, 1, 1]
    # min/min mirrors it: (1,3), (2,2), (3,1) in raw units, the steps bulge towards the worse corner
    xs, ys = front_steps(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]), [False, False])
    assert sorted(zip(xs.tolist(), ys.tolist())) == [(1, 3), (2, 2), (2, 3), (3, 1), (3, 2)]


def test_clashing_column_names_are_prefixed(tmp_path):
    trials = [({"seed": 1, "val_acc": 2}, None, {"val_acc": 0.5, "duration_s": 3.0, "id": 9.0})]
    out = write_report(make_run(tmp_path, trials, objectives=["val_acc:max"]), plots=False)
    row = read_csv(out["trials.csv"])[0]
    assert list(row) == [
        "id", "state", "fidelity", "seed", "fail_kind", "message", "config.seed", "val_acc", "N", "P",  # N, P: the waiting trial
        "metrics.val_acc", "metrics.duration_s", "metrics.id", "duration_s",
    ]
    assert (row["id"], row["seed"], row["config.seed"], row["metrics.val_acc"]) == ("1", "7", "1", "0.5")
