"""export_trial: generator.json, arch.json (ArchSpec round trip) and a TorchScript model.pt that
plain ``torch.jit.load`` reads, for a trial of a tiny digits study; bad trials are refused."""

from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path

import pytest
import torch

from nago.errors import ConfigError, NagoError
from nago.analysis.export import export_trial
from nago.generator.hnag import generate
from nago.study.runner import derive_seed
from nago.config.run import RunConfig, build_objective
from nago.generator.spec import ArchSpec
from nago.study.from_run import study_from_run

from _toml import toml_lines as _toml
from _paths import RUNS, SPACES


def write_tiny_run(path: Path) -> Path:
    """runs/digits.toml with a tiny budget: 20k-parameter nets, 300 training images, 1 epoch."""
    raw = tomllib.loads((RUNS / "digits.toml").read_text())
    raw["run"].update(name="tiny", space=str(SPACES / "hnag.toml"))
    raw["data"]["max_train"] = 300
    raw["model"].update(param_limit=2e4, head_width=16)
    raw["train"]["progress"] = False
    raw["evaluate"]["device"] = "cpu"
    raw["search"].update(strategy="random", fidelity=1)
    path.write_text("\n".join(_toml(raw)) + "\n")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A 3-trial study (trials 1-3 complete) plus a failed trial 4."""
    root = tmp_path_factory.mktemp("export")
    study = study_from_run(write_tiny_run(root / "tiny.toml"), out=root / "study", assignments={"N_m": 1, "N_b": 3})
    study.optimize(n_trials=3, progress=False)
    t = study.store.create(config=study.trials[0].config, seed=123, fidelity=1.0)
    study.store.fail(t.id, kind="oom", message="out of memory")
    study.close()
    return root / "study"


def _trial(run_dir: Path, trial_id: int):
    from nago.study.storage import TrialStore

    with TrialStore(run_dir / "study.sqlite") as store:
        return store.get(trial_id)


def test_export_writes_loadable_torchscript_and_matching_json(run_dir):
    out = export_trial(run_dir, 2)
    trial = _trial(run_dir, 2)
    folder = run_dir / "export" / "trial-2"
    assert out["dir"] == folder and {p.name for p in folder.iterdir()} == {"generator.json", "arch.json", "model.pt"}
    model = torch.jit.load(str(folder / "model.pt"))
    with torch.no_grad():
        logits = model(torch.rand(3, 1, 8, 8))
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()

    gen = json.loads((folder / "generator.json").read_text())
    spec = ArchSpec.from_json((folder / "arch.json").read_text())
    assert gen["fingerprint"] == spec.fingerprint == out["fingerprint"]
    assert ArchSpec.from_json(spec.to_json()) == spec
    assert gen["config"] == trial.config and gen["metrics"] == pytest.approx(trial.metrics)
    assert gen["input_shape"] == [1, 8, 8] and gen["num_classes"] == 10 and gen["trained"] is None
    assert gen["weights"] == "untrained" and "untrained" in gen["weights_note"] and "--epochs" in gen["weights_note"]
    # the exported network is the one the trial trained as its first sample
    assert gen["network_seed"] == derive_seed(trial.seed, 0, 0) == trial.sample_metrics[0]["net_seed"]
    assert gen["params"] == trial.sample_metrics[0]["params"]
    assert spec.fingerprint == generate(trial.config, gen["network_seed"]).fingerprint


def test_untrained_export_has_the_initial_weights_the_trial_started_from(run_dir, tmp_path):
    trial = _trial(run_dir, 1)
    export_trial(run_dir, 1, out=tmp_path)
    objective = build_objective(RunConfig.from_toml(run_dir.parent / "tiny.toml"))
    _, net = objective.build(trial.config, derive_seed(trial.seed, 0, 0))
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(tmp_path / "model.pt"))(x), net.eval()(x))


def test_export_with_another_network_seed(run_dir, tmp_path):
    out = export_trial(run_dir, 1, out=tmp_path, seed=77)
    trial = _trial(run_dir, 1)
    assert out["network_seed"] == 77 and out["dir"] == tmp_path
    assert out["fingerprint"] == generate(trial.config, 77).fingerprint


def test_export_with_epochs_retrains_the_trials_first_network(run_dir, tmp_path):
    trial = _trial(run_dir, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = export_trial(run_dir, 3, out=tmp_path, epochs=trial.fidelity)
    # same network, same initial weights, same training seed and data: the trial's own result
    assert out["trained"]["val_acc"] == pytest.approx(trial.sample_metrics[0]["val_acc"])
    gen = json.loads((tmp_path / "generator.json").read_text())
    assert gen["trained"]["val_acc"] == out["trained"]["val_acc"]
    assert gen["weights"] == out["weights"] == "trained" and 0 <= gen["trained"]["test_acc"] <= 1
    assert gen["classes"] == [str(d) for d in range(10)] and gen["preprocessing"]["mean"] is not None
    assert torch.jit.load(str(tmp_path / "model.pt"))(torch.rand(1, 1, 8, 8)).shape == (1, 10)


def test_export_records_classes_and_input_normalisation(run_dir, tmp_path):
    """generator.json and the TorchScript's extra file ``nago.json`` say what the network expects."""
    from nago.training.data import load_dataset

    export_trial(run_dir, 1, out=tmp_path)
    data = load_dataset("digits", val_fraction=0.15, max_train=300)
    gen = json.loads((tmp_path / "generator.json").read_text())
    assert gen["classes"] == [str(d) for d in range(10)]
    pre = gen["preprocessing"]
    assert (pre["channels"], pre["image_size"], pre["dataset"]) == (1, 8, "digits")
    assert pre["mean"] == pytest.approx(list(data.mean)) and pre["std"] == pytest.approx(list(data.std))
    assert "(x - mean) / std" in pre["input"] and "[0, 1]" in pre["input"]
    extra = {"nago.json": ""}
    torch.jit.load(str(tmp_path / "model.pt"), _extra_files=extra)
    record = json.loads(extra["nago.json"])
    assert record["weights"] == "untrained" and record["classes"] == gen["classes"]
    assert record["preprocessing"] == pre and record["fingerprint"] == gen["fingerprint"]


def test_exporting_a_failed_or_unknown_trial_is_refused(run_dir):
    with pytest.raises(ConfigError, match="trial 4 is failed; allowed: a complete trial"):
        export_trial(run_dir, 4)
    with pytest.raises(ConfigError, match=r"--trial: got 9; allowed: a trial id of this study \(1..4\)"):
        export_trial(run_dir, 9)


def test_export_without_a_study_is_refused(tmp_path):
    with pytest.raises(NagoError, match="no study in"):
        export_trial(tmp_path, 1)
