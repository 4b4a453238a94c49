"""Device resolution and the CUDA-only AMP / channels-last decisions (tested without a GPU)."""

from __future__ import annotations

import pytest
import torch

from nago.training.device import AMP_MODES, amp_dtype, resolve_device, use_channels_last
from nago.errors import ConfigError


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cpu_and_auto(no_cuda):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" cpu ") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_cuda_without_cuda_is_a_clear_config_error(no_cuda):
    with pytest.raises(ConfigError, match=r"device: got 'cuda' but CUDA is not available.*allowed here: auto, cpu"):
        resolve_device("cuda")


def test_auto_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ConfigError, match=r"'cuda:3' but only 2 CUDA device\(s\).*cuda:0..cuda:1"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "", 3.5])
def test_unparsable_devices(bad):
    with pytest.raises(ConfigError, match="allowed: auto, cpu, cuda"):
        resolve_device(bad)


def test_meta_device_is_refused():
    with pytest.raises(ConfigError, match="not available here"):
        resolve_device("meta")


@pytest.mark.parametrize("mode", AMP_MODES)
def test_amp_is_off_off_cuda(mode):
    assert amp_dtype(mode, "cpu", bf16_supported=True) is None
    assert amp_dtype(mode, "mps", bf16_supported=True) is None


@pytest.mark.parametrize(
    "mode, bf16, expected",
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, torch.float16),
        ("bf16", True, torch.bfloat16),
        ("fp16", True, torch.float16),
        ("fp16", False, torch.float16),
        ("off", True, None),
    ],
)
def test_amp_on_cuda(mode, bf16, expected):
    assert amp_dtype(mode, "cuda", bf16_supported=bf16) is expected


def test_amp_errors():
    with pytest.raises(ConfigError, match="no bf16 support; allowed: auto, fp16, off"):
        amp_dtype("bf16", "cuda", bf16_supported=False)
    with pytest.raises(ConfigError, match="train.amp: got 'fp8'; allowed: auto, bf16, fp16, off"):
        amp_dtype("fp8", "cpu")


def test_channels_last_decision():
    assert use_channels_last(None, "cuda") is True
    assert use_channels_last(None, "cpu") is False
    assert use_channels_last(False, "cuda") is False
    assert use_channels_last(True, "cpu") is True
