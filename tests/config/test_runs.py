"""The run configs under ``runs/``: they parse, build their objective and strategy, size networks at
their budget, follow the paper's protocol where they say so, and bad run files fail clearly."""

from __future__ import annotations

import dataclasses
import re
import shlex
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nago.errors import ConfigError, DataError
from nago.generator.hnag import generate
from nago.config.run import DataSection, EvaluateSection, ModelSection, RunConfig, SearchSection, build_objective
from nago.config.space import parse_assignments
from nago.strategies import STRATEGIES
from nago.training.train import TrainConfig
from nago.study.trial import parse_objectives

ROOT = Path(__file__).resolve().parents[2]
RUNS, SPACES = ROOT / "runs", ROOT / "spaces"

RUN_FILES = sorted(RUNS.glob("*.toml"))
# runs that train networks; runs on a table space (runs/nb201.toml) train nothing: tests/study/test_table_runs.py
NETWORK_RUN_FILES = [p for p in RUN_FILES if not RunConfig.from_toml(p).space.is_table]

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


def _make_strategy(run: RunConfig, name: str | None = None):
    search = run.search
    name = name or search.strategy
    cls = STRATEGIES.get(name)
    return cls(space=run.space, objectives=parse_objectives(list(search.objectives)),
               seed=run.seed, fidelity=search.fidelity, **search.options_for(name, known=STRATEGIES.names()))


def test_every_paper_dataset_has_a_run_file():
    assert set(PAPER) <= {p.stem for p in RUN_FILES}


@pytest.mark.parametrize("path", NETWORK_RUN_FILES, ids=_ids(NETWORK_RUN_FILES))
def test_run_file_parses_and_builds_its_objective_and_strategy(path):
    run = RunConfig.from_toml(path)
    assert run.name == path.stem
    assert isinstance(TrainConfig.from_dict(run.train), TrainConfig)
    objective = build_objective(run)
    assert objective._data is None  # constructing it reads no data
    assert objective.train.epochs == run.train["epochs"]
    assert objective.samples == run.evaluate.samples
    assert objective.evaluate_test is False  # a search selects on validation only
    strategy = _make_strategy(run)
    assert strategy.space is run.space


@pytest.mark.parametrize("path", NETWORK_RUN_FILES, ids=_ids(NETWORK_RUN_FILES))
def test_sampled_network_fits_the_run(path):
    """A network from the run's space, at its input size, classes and budget (shapes on the meta device)."""
    run = RunConfig.from_toml(path)
    channels, size, classes = run.shape()
    config = run.space.sample(np.random.default_rng(0), 1)[0]
    model, generator_config = run.model.split(config)  # a searched budget is the model's
    limit = model.param_limit
    with torch.device("meta"):
        net = model.build(generate(generator_config, 0), in_channels=channels, image_size=size, num_classes=classes, seed=0)
        logits = net(torch.empty(2, channels, size, size))
    assert logits.shape == (2, classes)
    assert 0.9 < net.info["params"] / limit < 1.1


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_protocol(name):
    size, classes, limit, epochs, fidelity, _, cutout = PAPER[name]
    run = RunConfig.from_toml(RUNS / f"{name}.toml")
    assert run.space.source.resolve() == (SPACES / "hnag.toml").resolve()
    assert run.shape() == (3, size, classes)
    assert run.data.root is None  # users pass --data-root
    assert run.model == ModelSection(param_limit=limit, head_width=1280, dropout=0.2)
    train = TrainConfig.from_dict(run.train)
    assert (train.epochs, train.batch_size, train.lr, train.momentum) == (epochs, 96, 0.025, 0.9)
    assert (train.weight_decay, train.grad_clip, train.warmup_epochs) == (3e-4, 5.0, 0)
    aug = train.augment
    assert aug.hflip and aug.cutout == cutout
    assert (aug.crop_padding, aug.random_resized_crop) == ((4, False) if size == 32 else (0, True))
    assert run.evaluate.samples == 1
    assert run.search.strategy == "mobo"
    assert run.search.objectives == ("val_acc:max", "memory_mb:min")
    assert run.search.fidelity == fidelity


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
    assert run.search.trials > 0


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


# --- typed sections ---------------------------------------------------------------------------------
def test_absent_sections_take_their_defaults_from_one_place(tmp_path):
    run = RunConfig.from_toml(_write(tmp_path, "[data]\ndataset = \"digits\"\n"))
    assert run.model == ModelSection() and (run.model.param_limit, run.model.head_width, run.model.dropout) == (4e6, 1280, 0.2)
    assert run.evaluate == EvaluateSection() and run.search == SearchSection() and run.data == DataSection(dataset="digits")
    objective = build_objective(run)
    assert objective.model is run.model and objective.samples == 1 and objective.device == "auto"
    assert objective.data_options == {"root": None, "image_size": None, "val_fraction": 0.1}


def test_sections_are_frozen():
    run = RunConfig.from_toml(RUNS / "digits.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.model.param_limit = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.search.trials = 3  # type: ignore[misc]


@pytest.mark.parametrize("text, named", [
    ("[model]\nparam_limit = -1\n", r"model\.param_limit: got -1; allowed: a number of parameters > 0"),
    ("[model]\nhead_width = 12.5\n", r"model\.head_width: got 12\.5; allowed: an integer >= 1"),
    ("[model]\ndropout = 1.0\n", r"model\.dropout: got 1\.0; allowed: a probability in \[0, 1\)"),
    ("[model]\nwidth = 3\n", r"unknown key\(s\) \['width'\] in \[model\]; allowed: \['dropout', 'head_width', 'param_limit'\]"),
    ("[data]\nval_fraction = 1.5\n", r"data\.val_fraction: got 1\.5; allowed: a number in \(0, 1\)"),
    ("[data]\nmax_train = -3\n", r"data\.max_train: got -3"),
    ("[data]\nimage_size = \"32\"\n", r"data\.image_size: got '32'"),
    ("[evaluate]\nsamples = 0\n", r"evaluate\.samples: got 0; allowed: an integer >= 1"),
    ("[evaluate]\nthreads = true\n", r"evaluate\.threads: got True"),
    ("[search]\ntrials = \"10\"\n", r"search\.trials: got '10'; allowed: an integer >= 1"),
    ("[search]\nbatch = 0\n", r"search\.batch: got 0"),
    ("[search]\nfidelity = -5\n", r"search\.fidelity: got -5"),
    ("[search]\nref_point = [0.5]\n", r"search\.ref_point: got \(0\.5,\); allowed: a list of 2 numbers"),
    ("[search]\nobjectives = []\n", r"search\.objectives: got \(\); allowed: a list of"),
    ("[search.options]\nn_init = 3\n[search.options.bohb]\neta = 2\n",
     r"search\.options: got plain option\(s\) \['n_init'\] next to per-strategy table\(s\) \['bohb'\]"),
])
def test_bad_section_values_name_field_value_and_allowed(tmp_path, text, named):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=named) as err:
        RunConfig.from_toml(path)
    assert str(path) in str(err.value)


def test_time_limit_zero_means_none(tmp_path):
    assert RunConfig.from_toml(_write(tmp_path, "[search]\ntime_limit_s = 0\n")).search.time_limit_s is None
    assert RunConfig.from_toml(_write(tmp_path, "[search]\ntime_limit_s = 60\n")).search.time_limit_s == 60


# --- objectives are metrics a search trial measures ----------------------------------------------------
@pytest.mark.parametrize("metric, named", [
    ("latency", r"search\.objectives: got metric 'latency'; allowed: .*latency_ms.*val_acc"),
    ("test_acc", r"got metric 'test_acc' \(test metrics are measured by `nago evaluate`.*allowed: .*val_acc"),
])
def test_objectives_a_search_cannot_measure_are_refused_when_read(tmp_path, metric, named):
    with pytest.raises(ConfigError, match=named):
        RunConfig.from_toml(_write(tmp_path, f"[search]\nobjectives = [\"val_acc:max\", \"{metric}:min\"]\n"))


def test_latency_objective_asks_the_objective_to_measure_latency(tmp_path):
    run = RunConfig.from_toml(_write(tmp_path, "[data]\ndataset = \"digits\"\n"
                                               "[search]\nobjectives = [\"val_acc:max\", \"latency_ms:min\"]\n"))
    assert build_objective(run).latency is True
    assert build_objective(RunConfig.from_toml(RUNS / "digits.toml")).latency is False


# --- strategy options belong to their strategy -----------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_run_files_give_options_per_strategy(name):
    """`nago search runs/<name>.toml --strategy bohb` gets bohb's table, never mobo's n_init."""
    low, high = PAPER[name][5]
    run = RunConfig.from_toml(RUNS / f"{name}.toml")
    assert not run.search.options_flat
    assert run.search.options_for() == run.search.options_for("mobo") == {"n_init": 16}
    assert run.search.options_for("bohb") == {"min_budget": low, "max_budget": high, "eta": 2}
    assert run.search.options_for("random") == {}
    bohb = _make_strategy(run, "bohb")
    assert type(bohb).__name__ == "BOHB" and bohb.schedule.budgets == (low, 2 * low, high)
    for other in ("random", "rea"):
        assert _make_strategy(run, other).space is run.space


def test_flat_options_belong_to_the_run_strategy_and_an_override_drops_them(tmp_path):
    run = RunConfig.from_toml(_write(tmp_path, "[search]\nstrategy = \"mobo\"\n[search.options]\nn_init = 8\n"))
    assert run.search.options_flat and run.search.options_for() == {"n_init": 8}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run.search.options_for("MOBO") == {"n_init": 8}
    with pytest.warns(UserWarning, match=r"\[search\.options\] \['n_init'\] are options of \[search\] strategy = 'mobo'; "
                                         r"not passed to 'bohb' \(give its options as \[search\.options\.bohb\]\)"):
        assert run.search.options_for("bohb") == {}


def test_an_options_table_of_an_unknown_strategy_is_named(tmp_path):
    run = RunConfig.from_toml(_write(tmp_path, "[search.options.mobbo]\nn_init = 8\n"))
    with pytest.raises(ConfigError, match=r"search\.options\.mobbo: unknown strategy 'mobbo'; allowed: .*bohb.*mobo"):
        run.search.options_for("mobo", known=STRATEGIES.names())


# -- a searched parameter budget ([model] param_limit = [low, high]) -------------------------------
def test_param_limit_range_adds_a_log_budget_dimension(tmp_path):
    run = RunConfig.from_toml(_write(tmp_path, "[data]\ndataset = \"digits\"\n[model]\nparam_limit = [2e3, 1e5]\n"))
    p = run.space["param_limit"]
    assert (p.type, p.low, p.high, p.log, p.searchable) == ("float", 2e3, 1e5, True, True)
    assert run.space.names[-1] == "param_limit" and run.space.dim == 9
    assert run.model.param_limit_range == (2e3, 1e5) and run.model.param_limit == pytest.approx((2e3 * 1e5) ** 0.5)
    model, generator = run.model.split({"N_t": 4, "param_limit": 5000.0})
    assert model.param_limit == 5000.0 and generator == {"N_t": 4}
    fixed = RunConfig.from_toml(RUNS / "cifar10.toml")
    assert "param_limit" not in fixed.space.names and fixed.model.split({"N_t": 4}) == (fixed.model, {"N_t": 4})


@pytest.mark.parametrize("value", ["[1e5, 2e3]", "[0, 10]", "[1e3]", "[1e3, 2e3, 3e3]", '["a", 1e3]'])
def test_bad_param_limit_range_is_named(tmp_path, value):
    with pytest.raises(ConfigError, match=r"model\.param_limit: got .*allowed: a number of parameters > 0, or \[low, high\]"):
        RunConfig.from_toml(_write(tmp_path, f"[data]\ndataset = \"digits\"\n[model]\nparam_limit = {value}\n"))


def test_searched_budget_sizes_each_network(tmp_path):
    """The config's budget reaches the builder; the generator never sees it."""
    run = RunConfig.from_toml(_write(tmp_path, "[data]\ndataset = \"digits\"\n[model]\nparam_limit = [2e3, 1e5]\nhead_width = 16\n"))
    objective = build_objective(run)
    config = run.space.validate({"N_t": 3, "N_m": 1, "N_b": 3, "param_limit": 4000.0}, partial=True)
    small = objective.build(config, 0)[1].info["params"]
    large = objective.build({**config, "param_limit": 60000.0}, 0)[1].info["params"]
    assert 0.8 * 4000 < small < 1.2 * 4000 and 0.9 * 60000 < large < 1.1 * 60000
