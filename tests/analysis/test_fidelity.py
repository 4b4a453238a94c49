from __future__ import annotations

import math

import pytest

from nago.analysis.fidelity import budget_agreement, spearman
from nago.analysis.report import write_report
from nago.study.storage import TrialStore
from nago.study.trial import Trial, TrialState, parse_objectives

OBJS = parse_objectives(["val_acc:max", "memory_mb:min"])


def trial(i, n, fidelity, acc, mem=None, state=TrialState.COMPLETE):
    metrics = {"val_acc": acc, "memory_mb": float(n) if mem is None else mem}
    return Trial(id=i, config={"N": n}, seed=0, fidelity=fidelity, state=state, metrics=metrics)


@pytest.mark.parametrize("x, y, expected", [
    ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
    ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
    ([1, 2, 3, 4], [1, 3, 2, 4], 0.8),
    ([1, 1, 2, 2], [1, 2, 3, 4], 0.894427),  # ties share their mean rank
])
def test_spearman_values(x, y, expected):
    assert spearman(x, y) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("x, y", [([1, 2], [1, 2]), ([1, 1, 1], [1, 2, 3]), ([1, 2, 3], [5, 5, 5])])
def test_spearman_undefined_is_nan(x, y):
    assert math.isnan(spearman(x, y))


def test_budget_agreement_pairs_configs_across_budgets():
    trials = [trial(i, n, 1.0, acc) for i, (n, acc) in enumerate([(1, 0.2), (2, 0.4), (3, 0.3), (4, 0.1), (5, 0.5)], 1)]
    trials += [trial(6, 1, 5.0, 0.6), trial(7, 2, 5.0, 0.9), trial(8, 3, 5.0, 0.8),
               trial(9, 4, 1.0, 0.35),  # a rerun of config 4 at budget 1: the latest counts
               trial(10, 4, 5.0, 0.7),
               trial(11, 5, 5.0, math.nan),  # not finite: not a pair
               trial(12, 6, 5.0, 0.5, state=TrialState.FAILED)]
    low, top = budget_agreement(trials, OBJS)
    assert (low.budget, low.configs, low.pairs) == (1.0, 5, 4)
    assert low.median == {"val_acc": pytest.approx(0.35), "memory_mb": 3.0}
    # pairs (low, high): 1 (0.2, 0.6), 2 (0.4, 0.9), 3 (0.3, 0.8), 4 (0.35, 0.7): ranks agree but for 3 and 4
    assert low.rho["val_acc"] == pytest.approx(0.8)
    assert low.rho["memory_mb"] == pytest.approx(1.0)
    assert (top.budget, top.configs, top.pairs, top.rho) == (5.0, 4, 0, {})


def test_budget_agreement_needs_two_budgets():
    assert budget_agreement([trial(1, 1, 5.0, 0.5), trial(2, 2, 5.0, 0.6)], OBJS) == []
    assert budget_agreement([trial(1, 1, None, 0.5), trial(2, 1, 5.0, 0.6)], OBJS) == []  # default fidelity: not a budget
    assert budget_agreement([], OBJS) == []


def make_run(path, rows):
    with TrialStore(path / "study.sqlite") as store:
        store.set_meta("objectives", ["val_acc:max", "memory_mb:min"])
        for config, fidelity, metrics in rows:
            t = store.create(config=config, seed=0, fidelity=fidelity)
            store.mark_running(t.id)
            store.complete(t.id, metrics=metrics)
    return path


def test_report_budgets_section_flags_a_low_budget_that_ranks_backwards(tmp_path):
    accs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    rows = [({"N": n}, 1, {"val_acc": a, "memory_mb": 10.0 * n}) for n, a in enumerate(accs)]
    rows += [({"N": n}, 9, {"val_acc": 1 - a, "memory_mb": 10.0 * n}) for n, a in enumerate(accs)]
    text = write_report(make_run(tmp_path, rows), plots=False)["report.md"].read_text()
    section = text.split("## Budgets\n", 1)[1]
    assert "| 1 | 6 | 0.35 | 25 | 6 | -1 | 1 |" in section
    assert "| 9 | 6 |" in section
    assert "**Low agreement**: budget 1 ranks `val_acc` unlike 9 (rho -1.00 over 6 configs)" in section
    assert "ranks `memory_mb` unlike" not in section


def test_report_budgets_section_only_for_multi_fidelity_studies(tmp_path):
    rows = [({"N": n}, 9, {"val_acc": 0.1 * n, "memory_mb": 10.0 * n}) for n in range(4)]
    text = write_report(make_run(tmp_path, rows), plots=False)["report.md"].read_text()
    assert "## Budgets" not in text and "Low agreement" not in text
