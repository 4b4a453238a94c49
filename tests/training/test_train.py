"""train_network / evaluate / TrainConfig on the CPU with a tiny conv net and a separable synthetic set."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from _colors import color_data

from nago.training.data.augment import AugmentConfig, DeviceAugment
from nago.training.data.base import ArraySplit, DatasetSplits
from nago.errors import ConfigError, DataError
from nago.training.train import TrainConfig, TrainFailure, TrainResult, evaluate, train_network

TIMING = {"train_seconds", "images_per_second", "data_fraction"}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets run far faster (and steadier on a busy machine) single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> DatasetSplits:
    return color_data(256, 96, size=8)


def _net(seed: int = 0, bn: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Conv2d(3, 8, 3, padding=1)] + ([nn.BatchNorm2d(8)] if bn else [])
    return nn.Sequential(*layers, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def _config(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=32, lr=0.05, progress=False, eval_batch_size=64)
    return TrainConfig(**{**base, **kw})


def test_learns_a_separable_set(data):
    config = _config(warmup_epochs=0.5, label_smoothing=0.1, augment=AugmentConfig(crop_padding=1, hflip=True, cutout=3))
    result = train_network(_net(), data, config=config, seed=0)
    assert isinstance(result, TrainResult)
    m = result.metrics
    assert m["val_acc"] >= 0.95 and m["test_acc"] >= 0.95
    assert 0 <= m["val_loss"] < 0.5 and m["train_loss"] < result.history[0]["train_loss"]
    assert m["epochs"] == 3 and m["train_seconds"] > 0 and m["images_per_second"] > 0
    assert 0 < m["data_fraction"] < 1  # always measured on the CPU
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert set(result.history[0]) == {"epoch", "train_loss", "train_acc", "lr", "seconds"}
    assert result.history[-1]["lr"] < 1e-3 < result.history[0]["lr"]


def test_same_seed_same_run_and_other_seed_differs(data):
    config = _config(epochs=2, augment=AugmentConfig(crop_padding=2, hflip=True, cutout=4))
    a = train_network(_net(), data, config=config, seed=7)
    b = train_network(_net(), data, config=config, seed=7)
    c = train_network(_net(), data, config=config, seed=8)
    strip = lambda r: ({k: v for k, v in r.metrics.items() if k not in TIMING}, [h["train_loss"] for h in r.history])
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_huge_learning_rate_is_a_nan_failure(data):
    with pytest.raises(TrainFailure, match="non-finite training loss") as info:
        train_network(_net(bn=False), data, config=_config(lr=1e6), seed=0)
    assert info.value.kind == "nan"


def test_time_limit_is_a_timeout_failure(data):
    with pytest.raises(TrainFailure, match="time_limit_s") as info:
        train_network(_net(), data, config=_config(time_limit_s=1e-9), seed=0)
    assert info.value.kind == "timeout"


class _Raises(nn.Module):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.exc = exc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise self.exc


def test_cuda_oom_is_an_oom_failure(data):
    with pytest.raises(TrainFailure, match="Tried to allocate") as info:
        train_network(_Raises(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")), data,
                      config=_config(), seed=0)
    assert info.value.kind == "oom"
    assert isinstance(info.value.__cause__, torch.cuda.OutOfMemoryError)
    assert info.value.__cause__.__traceback__ is None  # no frames (and tensors) kept alive


def test_other_exceptions_are_error_failures(data):
    wrong_head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 3, 3))  # 3 logits for 4 classes
    with pytest.raises(TrainFailure) as info:
        train_network(wrong_head, data, config=_config(), seed=0)
    assert info.value.kind == "error" and isinstance(info.value.__cause__, (IndexError, RuntimeError))


def test_train_failure_is_picklable_and_checked():
    failure = pickle.loads(pickle.dumps(TrainFailure("nan", "loss is nan")))
    assert (failure.kind, failure.message, str(failure)) == ("nan", "loss is nan", "loss is nan")
    with pytest.raises(ValueError, match="allowed: oom, nan, timeout, error"):
        TrainFailure("boom", "x")


def test_fractional_epochs_round_up(data):
    result = train_network(_net(), data, config=_config(epochs=1.2), seed=0)
    assert result.metrics["epochs"] == 2 and len(result.history) == 2


def test_channels_last_progress_bar_and_no_test(data, capsys):
    result = train_network(_net(), data, config=_config(epochs=1, channels_last=True, progress=True), seed=0,
                           evaluate_test=False)
    assert "val_acc" in result.metrics and "test_acc" not in result.metrics
    assert "train" in capsys.readouterr().err


def test_evaluate_restores_mode_and_counts(data):
    net = _net()
    net.train()
    augment = DeviceAugment(config=AugmentConfig(), mean=data.mean, std=data.std)
    acc, loss = evaluate(net, data.val, augment=augment, device="cpu", batch_size=10)
    assert net.training and 0 <= acc <= 1 and loss > 0

    class Constant(nn.Module):
        def forward(self, x):
            return torch.tensor([0.0, 0.0, 9.0, 0.0]).expand(x.shape[0], 4)

    acc, _ = evaluate(Constant(), data.val, augment=augment, device="cpu", batch_size=7)
    assert acc == pytest.approx(float(np.mean(data.val.labels == 2)))
    empty = ArraySplit(np.zeros((0, 8, 8, 3), np.uint8), np.zeros(0, np.int64))
    with pytest.raises(DataError, match="empty"):
        evaluate(net, empty, augment=augment, device="cpu", batch_size=7)


def _with(data: DatasetSplits, **kw) -> DatasetSplits:
    fields = dict(vars(data))
    fields.update(kw)
    return DatasetSplits(**fields)


def test_bad_data_is_a_data_error(data):
    bad_labels = ArraySplit(data.val.images, data.val.labels + 4)
    with pytest.raises(DataError, match=r"val labels span \[4, 7\]; allowed: \[0, 3\]"):
        train_network(_net(), _with(data, val=bad_labels), config=_config(), seed=0)
    with pytest.raises(DataError, match="image_size, image_size, in_channels"):
        train_network(_net(), _with(data, image_size=16), config=_config(), seed=0)
    with pytest.raises(DataError, match="mean"):
        train_network(_net(), _with(data, mean=(0.5,), std=(0.2,)), config=_config(), seed=0)
    with pytest.raises(ConfigError, match="device"):
        train_network(_net(), data, config=_config(), seed=0, device="tpu")


def test_config_from_dict():
    config = TrainConfig.from_dict(
        {"epochs": 600, "lr": 0.025, "time_limit_s": 3600, "augment": {"crop_padding": 4, "hflip": True, "cutout": 16}}
    )
    assert config.epochs == 600 and config.num_epochs == 600 and config.batch_size == 96
    assert config.augment == AugmentConfig(crop_padding=4, hflip=True, cutout=16)
    assert TrainConfig.from_dict({}) == TrainConfig()


@pytest.mark.parametrize(
    "d, match",
    [
        ({"epoch": 3}, r"train: unknown key 'epoch'; allowed: epochs, batch_size"),
        ({"batch_size": 0}, r"train.batch_size: got 0; allowed: an integer >= 1"),
        ({"batch_size": 9.5}, "train.batch_size: got 9.5"),
        ({"epochs": True}, "train.epochs: got True"),
        ({"epochs": 0}, "train.epochs"),
        ({"lr": -0.1}, "train.lr"),
        ({"lr": float("nan")}, "train.lr"),
        ({"momentum": 1.0}, r"train.momentum: got 1.0; allowed: a number in \[0, 1\)"),
        ({"nesterov": True, "momentum": 0.0}, "nesterov"),
        ({"amp": "fp8"}, "train.amp: got 'fp8'; allowed: auto, bf16, fp16, off"),
        ({"channels_last": "yes"}, "train.channels_last"),
        ({"time_limit_s": 0}, "train.time_limit_s"),
        ({"label_smoothing": 1.0}, "train.label_smoothing"),
        ({"progress": 1}, "train.progress"),
        ({"augment": {"cutout": -1}}, "augment.cutout"),
        ({"augment": {"mixup": 1}}, "augment: unknown key 'mixup'"),
        ({"augment": 4}, "augment"),
    ],
)
def test_config_rejects_bad_input(d, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict(d)


def test_config_rejects_non_mapping():
    with pytest.raises(ConfigError, match="train: got"):
        TrainConfig.from_dict(["epochs", 3])
