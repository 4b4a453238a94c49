"""What a study is, on resume (defect 10: ``--resume`` with another run file mixed its trials into the
old study), and checks that come before anything is created (a typo in ``--strategy`` used to leave a
study behind that the corrected command refused)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nago.cli import main
from nago.config.space import SearchSpace
from nago.errors import ConfigError
from nago.study.from_run import study_from_run
from nago.study.study import STORE_FILE, Study

from _paths import SPACES

TOY = {"space": {"name": "toy"},
       "params": {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": {"type": "int", "low": 1, "high": 4}}}


def toy(config, *, seed, fidelity):
    return {"val_acc": config["x"], "memory_mb": float(config["n"])}


def _study(run_dir: Path, **kw) -> Study:
    args = dict(run_dir=run_dir, space=SearchSpace.from_dict(TOY), objective=toy, objectives=["val_acc:max", "memory_mb:min"],
                strategy="random", seed=0, fidelity=2.0)
    return Study(**{**args, **kw})


# -- Study ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, named", [
    ({"space": SearchSpace.from_dict({**TOY, "params": {**TOY["params"], "n": {"type": "int", "low": 1, "high": 6}}})},
     "ranges.n.high was 4.0, now 6.0"),
    ({"fidelity": 4.0}, "fidelity was 2.0, now 4.0"),
    ({"meta": {"protocol": {"data": {"dataset": "cifar10"}}}}, "protocol.data.dataset was 'digits', now 'cifar10'"),
])
def test_a_resume_must_be_the_same_study(tmp_path, change, named):
    _study(tmp_path, meta={"protocol": {"data": {"dataset": "digits"}}}).optimize(n_trials=2, progress=False)
    with pytest.raises(ConfigError, match=f"cannot resume .*{named}"):
        _study(tmp_path, resume=True, **{"meta": {"protocol": {"data": {"dataset": "digits"}}}, **change})
    same = _study(tmp_path, resume=True, meta={"protocol": {"data": {"dataset": "digits"}}}).optimize(n_trials=3, progress=False)
    assert len(same.trials) == 3


@pytest.mark.parametrize("strategy, options, named", [
    ("mbo", {}, "unknown strategy 'mbo'; allowed: bohb, mo-bohb, moasha, mobo"),
    ("random", {"n_innit": 3}, "n_innit"),
])
def test_a_bad_strategy_creates_nothing(tmp_path, strategy, options, named):
    run_dir = tmp_path / "new" / "study"
    with pytest.raises(ConfigError, match=named):
        _study(run_dir, strategy=strategy, strategy_options=options)
    assert not (tmp_path / "new").exists()
    _study(run_dir).optimize(n_trials=1, progress=False)  # the corrected call is not refused


# -- study_from_run and the CLI ---------------------------------------------------------------------
def _folder_dataset(root: Path) -> Path:
    """Two classes of eight 8x8 PNGs in <root>/<class>/."""
    rng = np.random.default_rng(0)
    for k, colour in enumerate(((200, 30, 30), (30, 30, 200))):
        (root / f"c{k}").mkdir(parents=True)
        for i in range(8):
            img = np.clip(np.array(colour) + rng.integers(-20, 20, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / f"c{k}" / f"{i}.png")
    return root


def _run(folder: Path, name: str, data: str, train: str = "epochs = 1\n") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[run]\nname = "same"\nspace = "{SPACES / "hnag.toml"}"\n\n[data]\n{data}\n'
                    f'[model]\nparam_limit = 2e4\nhead_width = 16\n\n[train]\nprogress = false\n{train}\n'
                    '[evaluate]\ndevice = "cpu"\n\n[search]\nstrategy = "random"\n')
    return path


def test_resuming_with_a_run_file_on_another_dataset_is_refused(tmp_path):
    digits = _run(tmp_path, "digits", 'dataset = "digits"\nmax_train = 300\n')
    folder = _run(tmp_path, "folder", f'dataset = "folder"\nroot = "{_folder_dataset(tmp_path / "imgs")}"\nimage_size = 8\n')
    out = tmp_path / "study"
    study_from_run(digits, out=out).close()
    with pytest.raises(ConfigError, match=r"cannot resume .*protocol\.data\.dataset was 'digits', now 'folder'"):
        study_from_run(folder, out=out, resume=True)
    study_from_run(digits, out=out, resume=True).close()  # the same run file resumes


@pytest.mark.parametrize("data, train, named", [
    ('dataset = "digits"\nmax_train = 200\n', "epochs = 1\n", "protocol.data.max_train was 300, now 200"),
    ('dataset = "digits"\nmax_train = 300\n', "epochs = 1\nlr = 0.5\n", "protocol.train.lr was 0.025, now 0.5"),
])
def test_resuming_with_another_protocol_is_refused(tmp_path, data, train, named):
    out = tmp_path / "study"
    study_from_run(_run(tmp_path, "a", 'dataset = "digits"\nmax_train = 300\n'), out=out).close()
    with pytest.raises(ConfigError, match=f"cannot resume .*{named}"):
        study_from_run(_run(tmp_path, "b", data, train), out=out, resume=True)


def test_a_typo_in_strategy_leaves_no_study_behind(tmp_path, capsys):
    run = _run(tmp_path, "digits", 'dataset = "digits"\nmax_train = 300\n')
    out = tmp_path / "out"
    assert main(["search", str(run), "--strategy", "mbo", "--out", str(out), "--trials", "1", "--no-progress"]) == 2
    assert "unknown strategy 'mbo'" in capsys.readouterr().err
    assert not (out / STORE_FILE).exists() and not out.exists()
