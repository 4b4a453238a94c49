"""The run configs under ``runs/``: they parse, build their objective and strategy, size networks at
their budget, follow the paper's protocol where they say so, and bad run files fail clearly."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from nago.errors import ConfigError, DataError
from nago.generator.hnag import generate
from nago.generator.model import build_model
from nago.config.run import RunConfig, build_objective
from nago.config.space import parse_assignments
from nago.strategies import STRATEGIES
from nago.training.train import TrainConfig
from nago.study.trial import parse_objectives

ROOT = Path(__file__).resolve().parents[2]
RUNS, SPACES = ROOT / "runs", ROOT / "spaces"

RUN_FILES = sorted(RUNS.glob("*.toml"))

# name -> (image_size, classes, param_limit, final epochs, search fidelity, BOHB budgets, cutout)
PAPER = {
    "cifar10": (32, 10, 4e6, 600, 60, (30, 120), 16),
    "cifar100": (32, 100, 4e6, 600, 60, (30, 120), 16),
    "sport8": (224, 8, 6e6, 600, 200, (100, 400), 112),
    "mit67": (224, 67, 6e6, 600, 200, (100, 400), 112),
    "flowers102": (224, 102, 6e6, 600, 200, (100, 400), 112),
    "imagenet": (224, 1000, 6e6, 250, 200, (100, 400), 112),
}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _make_strategy(run: RunConfig):
    search = run.search
    cls = STRATEGIES.get(search.get("strategy", "random"))
    return cls(space=run.space, objectives=parse_objectives(search.get("objectives", ["val_acc:max"])),
               seed=run.seed, fidelity=search.get("fidelity"), **search.get("options", {}))


def test_every_paper_dataset_has_a_run_file():
    assert set(PAPER) <= {p.stem for p in RUN_FILES}


@pytest.mark.parametrize("path", RUN_FILES, ids=_ids(RUN_FILES))
def test_run_file_parses_and_builds_its_objective_and_strategy(path):
    run = RunConfig.from_toml(path)
    assert run.name == path.stem
    assert isinstance(TrainConfig.from_dict(run.train), TrainConfig)
    objective = build_objective(run)
    assert objective._data is None  # constructing it reads no data
    assert objective.train.epochs == run.train["epochs"]
    assert objective.samples == run.evaluate.get("samples", 1)
    strategy = _make_strategy(run)
    assert strategy.space is run.space


@pytest.mark.parametrize("path", RUN_FILES, ids=_ids(RUN_FILES))
def test_sampled_network_fits_the_run(path):
    """A network from the run's space, at its input size, classes and budget (shapes on the meta device)."""
    run = RunConfig.from_toml(path)
    channels, size, classes = run.shape()
    config = run.space.sample(np.random.default_rng(0), 1)[0]
    limit = float(run.model.get("param_limit", 4e6))
    with torch.device("meta"):
        net = build_model(generate(config, 0), in_channels=channels, image_size=size, num_classes=classes,
                          param_limit=limit, head_width=int(run.model.get("head_width", 1280)))
        logits = net(torch.empty(2, channels, size, size))
    assert logits.shape == (2, classes)
    assert 0.9 < net.info["params"] / limit < 1.1


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_protocol(name):
    size, classes, limit, epochs, fidelity, _, cutout = PAPER[name]
    run = RunConfig.from_toml(RUNS / f"{name}.toml")
    assert run.space.source.resolve() == (SPACES / "hnag.toml").resolve()
    assert run.shape() == (3, size, classes)
    assert "root" not in run.data  # users pass --data-root
    assert run.model == {"param_limit": limit, "head_width": 1280, "dropout": 0.2}
    train = TrainConfig.from_dict(run.train)
    assert (train.epochs, train.batch_size, train.lr, train.momentum) == (epochs, 96, 0.025, 0.9)
    assert (train.weight_decay, train.grad_clip, train.warmup_epochs) == (3e-4, 5.0, 0)
    aug = train.augment
    assert aug.hflip and aug.cutout == cutout
    assert (aug.crop_padding, aug.random_resized_crop) == ((4, False) if size == 32 else (0, True))
    assert run.evaluate["samples"] == 1
    assert run.search["strategy"] == "mobo"
    assert run.search["objectives"] == ["val_acc:max", "memory_mb:min"]
    assert run.search["fidelity"] == fidelity


def _commented_block(text: str, marker: str) -> str:
    """The ``#   key = value`` lines following the comment line that starts with ``marker``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(marker))
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("#"):
            break
        if line.startswith("#   "):
            block.append(line[4:])
    return "\n".join(block)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_bohb_alternative_in_the_comments_is_valid(name):
    """Uncommenting the documented BOHB settings gives a run whose BOHB has the paper's budgets."""
    low, high = PAPER[name][5]
    path = RUNS / f"{name}.toml"
    text = path.read_text()
    alt = tomllib.loads("[search]\n" + _commented_block(text, "# BOHB alternative"))
    raw = tomllib.loads(text)
    raw["search"] = alt["search"]
    run = RunConfig.from_dict(raw, base=RUNS, where=str(path))
    strategy = _make_strategy(run)
    assert type(strategy).__name__ == "BOHB"
    assert strategy.schedule.budgets == (low, 2 * low, high)
    assert run.search["trials"] > 0


@pytest.mark.parametrize("name", sorted(PAPER))
def test_final_protocol_command_in_the_comments(name):
    text = (RUNS / f"{name}.toml").read_text()
    match = re.search(r"^#\s+(nago evaluate .*?)$(?!\n#\s+--set)", text, re.M | re.S)
    assert match, "no 'nago evaluate' example"
    argv = shlex.split(" ".join(line.lstrip("# ").rstrip("\\") for line in match.group(1).splitlines()))
    assert argv[:3] == ["nago", "evaluate", f"runs/{name}.toml"]
    epochs = PAPER[name][3]
    assert argv[argv.index("--samples") + 1] == "8" and argv[argv.index("--epochs") + 1] == str(epochs)
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    run = RunConfig.from_toml(RUNS / f"{name}.toml")
    run.space.validate(parse_assignments(sets))  # every searchable parameter given, each in range


# --- bad run files --------------------------------------------------------------------------------------
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(f'[run]\nspace = "{(SPACES / "hnag.toml").as_posix()}"\n{text}')
    return path


def test_unknown_section_is_named(tmp_path):
    path = _write(tmp_path, "[serach]\ntrials = 3\n")
    with pytest.raises(ConfigError, match=r"unknown section.*serach.*allowed") as err:
        RunConfig.from_toml(path)
    assert str(path) in str(err.value)


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path, "[search]\nstrategy = \"mobo\"\nepochs = 60\n")
    with pytest.raises(ConfigError, match=r"unknown key.*epochs.*\[search\].*fidelity") as err:
        RunConfig.from_toml(path)
    assert str(path) in str(err.value)


def test_unknown_train_key_is_named(tmp_path):
    run = RunConfig.from_toml(_write(tmp_path, "[data]\ndataset = \"cifar10\"\n[train]\nlearning_rate = 0.1\n"))
    with pytest.raises(ConfigError, match=r"train: unknown key 'learning_rate'"):
        build_objective(run)


def test_missing_space_is_named(tmp_path):
    path = tmp_path / "nospace.toml"
    path.write_text('[run]\nname = "x"\n[data]\ndataset = "cifar10"\n')
    with pytest.raises(ConfigError, match=r"\[run\] needs 'space'") as err:
        RunConfig.from_toml(path)
    assert str(path) in str(err.value)


def test_space_file_not_found_is_named(tmp_path):
    path = tmp_path / "badspace.toml"
    path.write_text('[run]\nspace = "../spaces/nope.toml"\n')
    with pytest.raises(ConfigError, match=r"file not found: .*nope\.toml"):
        RunConfig.from_toml(path)


# --- data -----------------------------------------------------------------------------------------------
def test_cifar10_missing_root_names_the_layout(tmp_path):
    run = RunConfig.from_toml(RUNS / "cifar10.toml")
    objective = build_objective(run, data_root=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"not a directory.*cifar-10-batches-py.*data_batch_1"):
        objective.load_data()


def test_cifar10_without_root_asks_for_it():
    objective = build_objective(RunConfig.from_toml(RUNS / "cifar10.toml"))
    with pytest.raises(DataError, match=r"--data-root.*cifar-10-batches-py"):
        objective.load_data()


def test_cifar10_empty_root_names_the_missing_file(tmp_path):
    objective = build_objective(RunConfig.from_toml(RUNS / "cifar10.toml"), data_root=str(tmp_path))
    with pytest.raises(DataError, match=r"missing .*data_batch_1.*expected <root>/cifar-10-batches-py"):
        objective.load_data()
