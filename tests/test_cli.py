"""The ``nago`` command line, run in-process through ``nago.cli.main`` (one subprocess checks the real
exit status and stderr): sample, evaluate, search (+ resume), report, export, help texts, and user
errors that exit 2 with one ``nago: error:`` line and no traceback."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from nago.cli import build_parser, main

from _toml import toml_lines as _toml
from _paths import ROOT, RUNS, SPACES

HNAG = str(SPACES / "hnag.toml")
TINY_SET = ["--set", "N_m=1", "--set", "N_b=3"]


def write_tiny_run(path: Path, **train) -> Path:
    """runs/digits.toml with a tiny budget: 20k-parameter nets, 300 training images, 1 epoch, small BO."""
    raw = tomllib.loads((RUNS / "digits.toml").read_text())
    raw["run"].update(name="tiny", space=str(SPACES / "hnag.toml"))
    raw["data"]["max_train"] = 300
    raw["model"].update(param_limit=2e4, head_width=16)
    raw["train"].update(progress=False, epochs=1, **train)
    raw["evaluate"]["device"] = "cpu"
    raw["search"].update(fidelity=1, options={"n_init": 3, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32})
    path.write_text("\n".join(_toml(raw)) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(write_tiny_run(tmp_path_factory.mktemp("cli") / "tiny.toml"))


@pytest.fixture(scope="module")
def searched(tiny) -> Path:
    """A 5-trial mobo search of the tiny run through the CLI."""
    out = Path(tiny).parent / "study"
    assert main(["search", tiny, "--trials", "5", "--out", str(out), "--no-progress", *TINY_SET]) == 0
    return out


def _one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nago: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


# -- sample ---------------------------------------------------------------------------------------
def test_sample_json(capsys):
    assert main(["sample", HNAG, "--json", "--set", "N_t=3", "--seed", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"fingerprint", "params", "flops", "memory_mb", "conv_nodes", "stages", "widths"} <= set(out)
    assert out["config"]["N_t"] == 3 and out["seed"] == 2 and out["input"] == [3, 32, 32]
    assert abs(out["params"] - 4e6) / 4e6 < 0.1 and out["flops"] > 0 and out["memory_mb"] > 0


def test_sample_of_a_run_file_uses_its_data_shape_and_budget(capsys, tiny):
    assert main(["sample", tiny, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input"] == [1, 8, 8] and out["param_limit"] == 2e4


def test_sample_text(capsys):
    assert main(["sample", HNAG, "--set", "N_t=4", "--set", "N_m=1"]) == 0
    out = capsys.readouterr().out
    for head in ("generator", "network", "structure", "stages", "params", "flops", "memory"):
        assert any(line.startswith(head) for line in out.splitlines()), head


@pytest.mark.parametrize("assignment, named", [
    ("N_t=99", "'N_t': got 99; allowed: an integer in [3, 10]"),
    ("Bogus=1", "'Bogus'"),
    ("N_t=abc", "'N_t': got 'abc'"),
    ("P_t=1.5", "'P_t'"),
    ("N_t", "NAME=VALUE"),
])
def test_bad_set_exits_2_with_one_line(capsys, assignment, named):
    assert main(["sample", HNAG, "--set", assignment]) == 2
    _one_error_line(capsys.readouterr().err, named)


def test_bad_set_in_evaluate_and_search(capsys, tiny, tmp_path):
    assert main(["evaluate", tiny, "--set", "K_t=9"]) == 2
    _one_error_line(capsys.readouterr().err, "'K_t'")
    assert main(["search", tiny, "--set", "Bogus=1", "--out", str(tmp_path)]) == 2
    _one_error_line(capsys.readouterr().err, "'Bogus'")


def test_malformed_and_missing_toml_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[space\nname = 1\n")
    for cmd in (["sample", str(bad)], ["evaluate", str(bad)], ["search", str(bad), "--out", str(tmp_path / "o")]):
        assert main(cmd) == 2
        _one_error_line(capsys.readouterr().err, "bad.toml: malformed TOML")
    assert main(["sample", str(tmp_path / "missing.toml")]) == 2
    _one_error_line(capsys.readouterr().err, "file not found")


def test_the_installed_entry_point_exits_2_without_a_traceback():
    code = "import sys; from nago.cli import main; sys.exit(main())"
    proc = subprocess.run([sys.executable, "-c", code, "sample", HNAG, "--set", "N_b=1"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    _one_error_line(proc.stderr, "'N_b': got 1")


# -- evaluate -------------------------------------------------------------------------------------
def test_evaluate_json(capsys, tiny):
    assert main(["evaluate", tiny, "--set", "N_t=3", "--set", "N_m=1", "--samples", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"val_acc", "test_acc", "test_acc_std", "params", "memory_mb", "samples"} <= set(out)
    assert len(out["samples"]) == 2 and out["n_samples"] == 2 and out["config"]["N_t"] == 3
    assert 0 <= out["test_acc"] <= 1 and out["epochs"] == 1


def test_evaluate_text_table(capsys, tiny):
    assert main(["evaluate", tiny, "--set", "N_t=3", "--set", "N_m=1", "--seed", "4"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == "generator" and rows[-3:] == ["0", "mean", "std"]


def test_evaluate_failure_exits_1(capsys, tmp_path):
    run = write_tiny_run(tmp_path / "diverge.toml", lr=1e6)
    assert main(["evaluate", str(run), "--set", "N_t=3", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["failed"] == "nan"
    assert captured.err.startswith("nago: evaluation failed (nan):")


# -- search / report / export ---------------------------------------------------------------------
def test_search_writes_the_store_and_reports(searched, capsys):
    for name in ("study.sqlite", "trials.csv", "pareto.csv", "report.md", "pareto.png", "hypervolume.png"):
        assert (searched / name).is_file(), name
    rows = (searched / "trials.csv").read_text().splitlines()
    assert len(rows) == 6 and all(",complete," in row for row in rows[1:])


def test_search_refuses_an_existing_study_and_resumes_it(searched, tiny, capsys):
    assert main(["search", tiny, "--trials", "6", "--out", str(searched), "--no-progress", *TINY_SET]) == 2
    _one_error_line(capsys.readouterr().err, "already holds a study")
    assert main(["search", tiny, "--trials", "6", "--out", str(searched), "--no-progress", "--no-plots", "--resume",
                 *TINY_SET]) == 0
    out = capsys.readouterr().out
    assert "6 complete, 0 failed. Pareto front:" in out and "report.md" in out
    assert main(["search", tiny, "--trials", "6", "--out", str(searched), "--resume", "--seed", "5", *TINY_SET]) == 2
    _one_error_line(capsys.readouterr().err, "cannot resume", "seed was 0, now 5")
    assert main(["search", tiny, "--trials", "6", "--out", str(searched), "--resume", "--set", "N_m=1", "--set", "N_b=4"]) == 2
    _one_error_line(capsys.readouterr().err, "cannot resume", "fixed.N_b was 3, now 4")


def test_search_strategy_override_drops_the_flat_options_of_the_run_strategy(tiny, capsys, tmp_path):
    """The tiny run's flat [search.options] are mobo's: `--strategy random` runs without them, saying so."""
    with pytest.warns(UserWarning, match=r"\['mc_samples', 'n_init', 'num_restarts', 'raw_samples'\] are options of "
                                         r"\[search\] strategy = 'mobo'; not passed to 'random'"):
        assert main(["search", tiny, "--strategy", "random", "--trials", "2", "--out", str(tmp_path / "rnd"),
                     "--no-progress", "--no-plots", *TINY_SET]) == 0
    assert "2 complete, 0 failed" in capsys.readouterr().out


def test_report(searched, capsys):
    assert main(["report", str(searched), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "trials.csv" in out and "report.md" in out
    assert main(["report", str(searched.parent / "nothing")]) == 2
    _one_error_line(capsys.readouterr().err, "no trial store")


def test_export(searched, capsys, tmp_path):
    import torch

    assert main(["export", str(searched), "--trial", "2", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trial"] == 2 and out["input_shape"] == [1, 8, 8] and Path(out["model"]).is_file()
    assert torch.jit.load(out["model"])(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert out["weights"] == "untrained" and out["classes"] == [str(d) for d in range(10)]
    assert main(["export", str(searched), "--trial", "1", "--out", str(tmp_path / "t1")]) == 0
    text = capsys.readouterr().out
    assert "load it with: torch.jit.load" in text
    assert "weights    UNTRAINED" in text and "--epochs" in text and "(x - mean) / std" in text
    assert main(["export", str(searched), "--trial", "99"]) == 2
    _one_error_line(capsys.readouterr().err, "--trial: got 99")


# -- help -----------------------------------------------------------------------------------------
def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += _command_paths(sub, (*prefix, name))
    return paths


COMMAND_PATHS = _command_paths(build_parser())


def test_every_command_is_reachable():
    assert {"sample", "evaluate", "search", "report", "export", "bench"} <= {p[0] for p in COMMAND_PATHS if p}


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=[" ".join(p) or "nago" for p in COMMAND_PATHS])
def test_help(path, capsys):
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: nago {' '.join(path)}".rstrip())
