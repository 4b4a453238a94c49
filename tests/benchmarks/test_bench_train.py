"""Smoke test of ``nago bench train`` on a tiny setting (through the CLI, so the registration is tested too)."""

from __future__ import annotations

import json
from pathlib import Path

from nago.benchmarks.bench import train as bench_train
from nago.cli import main

SPACE = Path(__file__).resolve().parents[2] / "spaces" / "hnag.toml"

TINY_DIGITS = f"""
[run]
name = "digits-tiny"
space = "{SPACE.as_posix()}"
[data]
dataset = "digits"
max_train = 160
[model]
param_limit = 2e4
head_width = 16
[train]
batch_size = 32
lr = 0.05
"""


def test_bench_train_tiny(tmp_path, capsys):
    run_file = tmp_path / "digits-tiny.toml"
    run_file.write_text(TINY_DIGITS)
    argv = ["bench", "train", "--json", "--epochs", "1", "--images", "192", "--param-limit", "1e5",
            "--digits-run", str(run_file), "--device", "cpu", "--threads", "1"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["device"] == "cpu" and result["threads"] == 1
    assert {"load_average", "target_data_fraction", "machine"} <= set(result)
    digits, cifar = result["workloads"]
    assert (digits["workload"], cifar["workload"]) == ("digits", "cifar-synthetic")
    assert digits["config"]["N_t"] == 4 and digits["train_images"] == 160 and digits["batch_size"] == 32
    assert cifar["train_images"] == 192 and cifar["batch_size"] == 96 and cifar["image_size"] == 32
    assert cifar["augment"] == {"crop_padding": 4, "random_resized_crop": False, "hflip": True, "cutout": 16}
    for w in (digits, cifar):
        assert w["epochs"] == 1 and len(w["epoch_seconds"]) == 1
        assert w["images_per_second"] > 0 and w["steady_images_per_second"] > 0
        assert 0 <= w["data_fraction"] < 1
    text = bench_train.format(result)
    assert "cifar-synthetic" in text and "data + augmentation share" in text


def test_bench_train_rejects_bad_threads(capsys):
    assert main(["bench", "train", "--threads", "0"]) == 2
    assert "--threads: got 0" in capsys.readouterr().err
