"""The CUDA path on a real GPU: AMP (bf16 and fp16 + GradScaler), channels-last, a genuine
out-of-memory failure, an HNAG network end to end, and per-trial process isolation.

Skipped where CUDA is absent (CI); run on a GPU machine with ``python -m pytest tests/test_cuda.py``.
The CPU-side logic of the same code (device resolution, AMP choice, OOM mapping) is tested in
``test_device.py`` and ``test_train.py`` everywhere.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from _colors import color_data

from nago.training.data.augment import AugmentConfig
from nago.training.data.base import DatasetSplits
from nago.training.train import TrainConfig, TrainFailure, train_network

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

@pytest.fixture(scope="module")
def data() -> DatasetSplits:
    return color_data(512, 128, size=16)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)
    )


def _config(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=32, lr=0.05, progress=False, augment=AugmentConfig(crop_padding=2, hflip=True, cutout=4))
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("amp", ["bf16", "fp16", "off"])
def test_trains_on_the_gpu_with_amp_and_channels_last(data, amp):
    net = _net()
    result = train_network(net, data, config=_config(amp=amp, profile_data=True), seed=0, device="cuda")
    m = result.metrics
    assert m["val_acc"] >= 0.95 and m["test_acc"] >= 0.95, m
    assert 0 < m["data_fraction"] < 1
    weight = net[0].weight
    assert weight.is_cuda and weight.dtype == torch.float32  # AMP keeps fp32 master weights
    assert weight.is_contiguous(memory_format=torch.channels_last)


class _Hog(nn.Module):
    """Asks the allocator for far more memory than any GPU has (a plain cudaMalloc that fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.empty(1 << 46, dtype=torch.uint8, device=x.device)  # 64 TiB
        return self.lin(x.mean(dim=(2, 3)))


def test_a_real_out_of_memory_is_an_oom_failure_and_frees_the_gpu(data):
    before = torch.cuda.memory_allocated()
    with pytest.raises(TrainFailure) as info:
        train_network(_Hog(), data, config=_config(), seed=0, device="cuda")
    assert info.value.kind == "oom"
    assert torch.cuda.memory_allocated() - before < 64 << 20  # training images and activations released


def test_hnag_network_end_to_end_on_the_gpu():
    from nago.config.run import RunConfig, build_objective

    run = RunConfig.from_toml("runs/digits.toml")
    objective = build_objective(run, device="cuda", samples=1, progress=False)
    config = {**run.space.defaults(), "N_t": 3}
    outcome = objective(config, seed=0, fidelity=5)
    assert 0.6 < outcome.metrics["val_acc"] <= 1.0, outcome.metrics
