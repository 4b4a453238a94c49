"""DeviceLoader on the CPU: epoch coverage, deterministic shuffling, preload vs streaming, memmaps, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from nago.training.data import loader as loader_mod
from nago.training.data.base import ArraySplit
from nago.training.data.loader import DeviceLoader
from nago.errors import ConfigError, DataError


def _split(n: int = 50, size: int = 3) -> ArraySplit:
    """Image i is filled with the value i, its label is i: a batch can be checked against itself."""
    images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, size, size, 2)).copy()
    return ArraySplit(images=images, labels=np.arange(n, dtype=np.int64))


def _epoch(loader: DeviceLoader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(loader)


def _check_batch(images: torch.Tensor, labels: torch.Tensor) -> None:
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert images.shape[1:] == (3, 3, 2)
    assert torch.equal(images[:, 0, 0, 0].long(), labels)  # each image travels with its label
    assert (images == images[:, :1, :1, :1]).all()


@pytest.mark.parametrize("preload", [True, False])
def test_epoch_covers_each_example_once(preload):
    loader = DeviceLoader(_split(50), batch_size=16, shuffle=True, device="cpu", seed=3, preload=preload)
    assert len(loader) == 4 and loader.preload is preload
    batches = _epoch(loader)
    assert [len(y) for _, y in batches] == [16, 16, 16, 2]
    for x, y in batches:
        _check_batch(x, y)
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(50))


@pytest.mark.parametrize("preload", [True, False])
def test_drop_last(preload):
    loader = DeviceLoader(_split(50), batch_size=16, shuffle=True, device="cpu", drop_last=True, preload=preload)
    batches = _epoch(loader)
    assert len(loader) == len(batches) == 3 and all(len(y) == 16 for _, y in batches)


def test_shuffle_depends_only_on_seed_and_epoch():
    def order(seed: int, epoch: int) -> list[int]:
        loader = DeviceLoader(_split(50), batch_size=8, shuffle=True, device="cpu", seed=seed)
        loader.set_epoch(epoch)
        return torch.cat([y for _, y in loader]).tolist()

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)
    assert order(1, 0) != list(range(50))
    loader = DeviceLoader(_split(50), batch_size=8, shuffle=True, device="cpu", seed=1)
    assert torch.cat([y for _, y in loader]).tolist() == torch.cat([y for _, y in loader]).tolist()  # no set_epoch


def test_no_shuffle_keeps_order():
    loader = DeviceLoader(_split(20), batch_size=6, shuffle=False, device="cpu")
    assert torch.cat([y for _, y in loader]).tolist() == list(range(20))


def test_streaming_yields_the_same_batches_as_preloading():
    kwargs = dict(batch_size=7, shuffle=True, device="cpu", seed=5)
    pre = DeviceLoader(_split(40), preload=True, **kwargs)
    streamed = DeviceLoader(_split(40), preload=False, **kwargs)
    for epoch in range(2):
        pre.set_epoch(epoch)
        streamed.set_epoch(epoch)
        for (_, ya), (xb, yb) in zip(pre, streamed, strict=True):
            _check_batch(xb, yb)
            assert sorted(ya.tolist()) == yb.tolist()  # same batch; sorted within it for forward memmap reads


@pytest.mark.parametrize("preload", [True, False])
def test_read_only_memmap(tmp_path, preload):
    src = _split(30)
    path = tmp_path / "images.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=src.images.shape)
    mm[:] = src.images
    mm.flush()
    images = np.memmap(path, dtype=np.uint8, mode="r", shape=src.images.shape)
    loader = DeviceLoader(ArraySplit(images, src.labels), batch_size=8, shuffle=True, device="cpu", preload=preload)
    labels = []
    for x, y in loader:
        _check_batch(x, y)
        labels += y.tolist()
    assert sorted(labels) == list(range(30))


def test_auto_preload_threshold(monkeypatch):
    assert DeviceLoader(_split(10), batch_size=4, shuffle=False, device="cpu").preload
    monkeypatch.setattr(loader_mod, "PRELOAD_MAX_BYTES", 10)
    assert not DeviceLoader(_split(10), batch_size=4, shuffle=False, device="cpu").preload


def test_preload_shares_a_contiguous_array_on_cpu():
    split = _split(10)
    loader = DeviceLoader(split, batch_size=4, shuffle=False, device="cpu", preload=True)
    assert loader._images.data_ptr() == split.images.__array_interface__["data"][0]


def test_abandoned_stream_stops_its_thread():
    loader = DeviceLoader(_split(200), batch_size=2, shuffle=True, device="cpu", preload=False)
    batches = iter(loader)
    next(batches)
    assert any(t.name == "nago-loader" for t in threading.enumerate())
    batches.close()
    assert not any(t.name == "nago-loader" and t.is_alive() for t in threading.enumerate())


def test_worker_errors_reach_the_consumer(monkeypatch):
    loader = DeviceLoader(_split(20), batch_size=4, shuffle=False, device="cpu", preload=False)

    def broken_take(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(loader_mod.np, "take", broken_take)
    with pytest.raises(OSError, match="disk went away"):
        list(loader)


@pytest.mark.parametrize(
    "split, match",
    [
        (ArraySplit(np.zeros((4, 3, 3, 1), np.float32), np.zeros(4, np.int64)), "uint8"),
        (ArraySplit(np.zeros((4, 3, 3), np.uint8), np.zeros(4, np.int64)), "uint8"),
        (ArraySplit(np.zeros((4, 3, 3, 1), np.uint8), np.zeros(3, np.int64)), "labels"),
        (ArraySplit(np.zeros((4, 3, 3, 1), np.uint8), np.zeros(4, np.float32)), "labels"),
    ],
)
def test_bad_splits(split, match):
    with pytest.raises(DataError, match=match):
        DeviceLoader(split, batch_size=2, shuffle=False, device="cpu")


def test_bad_arguments():
    with pytest.raises(ConfigError, match="batch_size"):
        DeviceLoader(_split(), batch_size=0, shuffle=False, device="cpu")
    with pytest.raises(ConfigError, match="seed"):
        DeviceLoader(_split(), batch_size=2, shuffle=False, device="cpu", seed=-1)
    with pytest.raises(ConfigError, match="epoch"):
        DeviceLoader(_split(), batch_size=2, shuffle=False, device="cpu").set_epoch(-1)
