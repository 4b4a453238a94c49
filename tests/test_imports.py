"""What the light commands import: building the parser (``nago --help``, ``nago search --help``) and
``nago report`` must not load torch, BoTorch or matplotlib (report: its plots need matplotlib, so
only torch and BoTorch are checked there). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nago.cli import build_parser, main
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.study.study import Study

from _paths import ROOT, SPACES

HEAVY = ("torch", "botorch", "gpytorch", "matplotlib", "optuna", "networkx", "scipy", "sklearn")


def _loaded_after(code: str) -> list[str]:
    """Heavy modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_building_the_parser_imports_nothing_heavy():
    assert _loaded_after("from nago.cli import build_parser; build_parser()") == []


def test_help_texts_import_nothing_heavy():
    for argv in (["--help"], ["search", "--help"], ["report", "--help"], ["bench", "--help"]):
        code = ("import contextlib, io\nfrom nago.cli import main\n"
                f"with contextlib.redirect_stdout(io.StringIO()):\n"
                f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass")
        assert _loaded_after(code) == [], argv


def test_report_imports_neither_torch_nor_botorch(tmp_path):
    space = SearchSpace.from_toml(SPACES / "hnag.toml")
    study = Study(run_dir=tmp_path / "study", space=space, strategy="random", objectives=["val_acc:max", "memory_mb:min"],
                  objective=lambda c, *, seed, fidelity=None: {"val_acc": c["P_t"], "memory_mb": float(c["N_t"])})
    study.optimize(n_trials=4, progress=False)
    study.close()
    code = f"from nago.cli import main\nassert main(['report', {str(tmp_path / 'study')!r}]) == 0"
    loaded = _loaded_after(code)
    assert "torch" not in loaded and "botorch" not in loaded, loaded
    assert (tmp_path / "study" / "report.md").is_file() and (tmp_path / "study" / "pareto.png").is_file()
    assert _loaded_after(code.replace("])", ", '--no-plots'])")) == []


def test_search_help_lists_every_registered_strategy(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # no line breaks inside hyphenated names
    try:
        main(["search", "--help"])
    except SystemExit:
        pass
    out = " ".join(capsys.readouterr().out.split())
    names = STRATEGIES.names()
    assert len(names) >= 8
    for name in names:
        assert name in out


def test_a_bench_parses_its_own_arguments_once_named():
    args = build_parser().parse_args(["bench", "search", str(SPACES / "nb201.toml"), "--seeds", "2"])
    assert args.bench == "search" and args.seeds == 2 and Path(args.space).name == "nb201.toml"
