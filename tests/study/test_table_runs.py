"""Runs on a table space (``kind = "table"``): ``nago search``, ``nago report`` and ``study_from_run``
look configs up in the table's CSV (defect 6: every trial used to fail as an unknown generator
parameter). Kept fast: random search, a handful of trials."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from nago.cli import main
from nago.config.run import RunConfig
from nago.errors import ConfigError
from nago.objectives.table import TableObjective
from nago.study.from_run import study_from_run
from nago.study.trial import TrialState

from _paths import RUNS, SPACES

NB201_MO = SPACES / "nb201-mo.toml"


def _run_file(folder: Path, body: str, space: Path = NB201_MO, name: str = "table") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[run]\nname = "{name}"\nspace = "{space}"\nseed = 1\n\n{body}')
    return path


def test_nago_search_on_nb201_mo_completes_and_reports_a_front(tmp_path, capsys):
    run = _run_file(tmp_path, '[search]\nstrategy = "random"\ntrials = 6\n')
    out = tmp_path / "study"
    assert main(["search", str(run), "--out", str(out), "--no-progress", "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "6 complete, 0 failed" in printed and "cifar10valid_train_time_200ep_s" in printed
    with (out / "pareto.csv").open() as f:
        front = list(csv.DictReader(f))
    assert front and all(float(r["cifar10valid_valid_200ep"]) > 0 for r in front)
    with (out / "trials.csv").open() as f:
        trials = list(csv.DictReader(f))
    assert len(trials) == 6 and {r["state"] for r in trials} == {"complete"}
    assert "cifar10_test_200ep" in trials[0]  # the table's other columns are kept too

    assert main(["report", str(out), "--no-plots"]) == 0
    report = (out / "report.md").read_text()
    assert "cifar10valid_valid_200ep" in report and "Pareto" in report


def test_the_api_on_a_table_run_defaults_to_the_tables_search_metrics(tmp_path):
    run = _run_file(tmp_path, '[search]\nstrategy = "random"\n')
    rc = RunConfig.from_toml(run)
    assert rc.search.objectives == ("cifar10valid_valid_200ep:max", "cifar10valid_train_time_200ep_s:min")
    study = study_from_run(run, out=tmp_path / "api")
    assert isinstance(study.objective, TableObjective) and study.fidelity is None
    study.optimize(n_trials=4, progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert study.pareto_front() and study.hypervolume() > 0
    study.close()


def test_objectives_may_name_any_table_column_and_only_those(tmp_path):
    ok = _run_file(tmp_path, '[search]\nobjectives = ["cifar100_test_200ep:max", "params_m:min"]\n', name="ok")
    assert RunConfig.from_toml(ok).search.objectives == ("cifar100_test_200ep:max", "params_m:min")
    bad = _run_file(tmp_path, '[search]\nobjectives = ["val_acc:max"]\n', name="bad")
    with pytest.raises(ConfigError, match=r"search.objectives: got metric 'val_acc'; allowed: the table's metric columns .*"
                                          r"cifar10valid_valid_200ep"):
        RunConfig.from_toml(bad)


def test_training_sections_on_a_table_run_are_refused_not_ignored(tmp_path):
    run = _run_file(tmp_path, '[data]\ndataset = "digits"\n\n[search]\ntrials = 3\n')
    with pytest.raises(ConfigError, match=r"is a table space .*\[data\] would be ignored; allowed: \[run\] and \[search\]"):
        RunConfig.from_toml(run)


def test_the_example_run_file_is_a_table_run():
    rc = RunConfig.from_toml(RUNS / "nb201.toml")
    assert rc.space.is_table and rc.space.source == NB201_MO.resolve()
    assert rc.search.options_for("mobo")["n_init"] <= rc.search.trials


def test_sample_and_evaluate_on_a_table(tmp_path, capsys):
    run = _run_file(tmp_path, "[search]\n")
    assert main(["sample", str(run)]) == 2
    assert "is a table space" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--set", "e0=nor_conv_3x3"]) == 0
    assert "cifar10valid_valid_200ep" in capsys.readouterr().out


def test_a_space_kind_is_checked(tmp_path):
    from nago.config.space import SearchSpace

    bad = tmp_path / "s.toml"
    bad.write_text('[space]\nkind = "tabel"\n\n[params.x]\ntype = "int"\nlow = 0\nhigh = 3\n')
    with pytest.raises(ConfigError, match=r"kind = 'tabel'; allowed: 'generator', 'table'"):
        SearchSpace.from_toml(bad)
