"""Tiny fake datasets written in the real on-disk formats (pickles, .mat files, JPEG/PNG trees)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 40, 230), (200, 200, 20)]


def write_image(path: Path, colour: tuple[int, int, int], seed: int, size: tuple[int, int] = (24, 18)) -> None:
    """A noisy solid-colour image (``size`` = width, height), format from the suffix."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = np.clip(np.array(colour) + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def write_tree(folder: Path, per_class: int, classes: int = 3, suffix: str = ".jpg", offset: int = 0) -> None:
    """``<folder>/class<k>/img<i><suffix>`` with ``per_class`` images per class."""
    for k in range(classes):
        for i in range(per_class):
            size = (24, 18) if i % 2 else (16, 28)
            write_image(folder / f"class{k}" / f"img{offset + i:03d}{suffix}", COLOURS[k], 1000 * k + i + offset, size)


def _cifar_batch(n: int, num_classes: int, label_key: bytes, seed: int) -> dict:
    """A CIFAR-style batch: channel c of image i is the constant ``(i + 60 * c) % 256``."""
    labels = [int(v) for v in np.arange(n) % num_classes]
    chans = (np.arange(n)[:, None] + 60 * np.arange(3)[None, :]) % 256  # [N, 3]
    data = np.repeat(chans[:, :, None], 1024, axis=2).reshape(n, 3072).astype(np.uint8)
    return {b"batch_label": f"batch {seed}".encode(), b"data": data, label_key: labels}


def _dump(path: Path, obj: object) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


@pytest.fixture
def tree_writer() -> Callable[..., None]:
    """:func:`write_tree`, for tests that build their own class trees."""
    return write_tree


@pytest.fixture
def fake_cifar10(tmp_path: Path) -> Path:
    """``<tmp>/cifar-10-batches-py`` with 5 x 20 training and 20 test images."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _dump(folder / f"data_batch_{i}", _cifar_batch(20, 10, b"labels", i))
    _dump(folder / "test_batch", _cifar_batch(20, 10, b"labels", 0))
    _dump(folder / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)], b"num_vis": 3072})
    return tmp_path


@pytest.fixture
def fake_cifar100(tmp_path: Path) -> Path:
    """``<tmp>/cifar-100-python`` with 300 training and 100 test images (100 fine classes)."""
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _dump(folder / "train", _cifar_batch(300, 100, b"fine_labels", 1))
    _dump(folder / "test", _cifar_batch(100, 100, b"fine_labels", 0))
    _dump(
        folder / "meta",
        {b"fine_label_names": [f"f{i}".encode() for i in range(100)], b"coarse_label_names": [b"x"] * 20},
    )
    return tmp_path


@pytest.fixture
def fake_flowers(tmp_path: Path) -> Path:
    """3 classes x 6 images; per class 2 train, 2 val, 2 test ids (1-based, as published)."""
    from scipy.io import savemat

    root = tmp_path / "flowers"
    labels = np.repeat(np.arange(1, 4), 6)  # image id j+1 has class labels[j]
    for j, c in enumerate(labels):
        write_image(root / "jpg" / f"image_{j + 1:05d}.jpg", COLOURS[c - 1], j, (30, 20))
    ids = np.arange(1, 19).reshape(3, 6)
    savemat(root / "imagelabels.mat", {"labels": labels[None, :]})
    savemat(
        root / "setid.mat",
        {"trnid": ids[:, :2].ravel()[None], "valid": ids[:, 2:4].ravel()[None], "tstid": ids[:, 4:].ravel()[None]},
    )
    return root


@pytest.fixture
def fake_sport8(tmp_path: Path) -> Path:
    """``<tmp>/sport8/event_img/class<k>/*.jpg``, 3 classes x 10 images."""
    root = tmp_path / "sport8"
    write_tree(root / "event_img", per_class=10)
    return root


@pytest.fixture
def fake_mit67(tmp_path: Path) -> Path:
    """``Images/class<k>/*.jpg`` (3 x 8) with TrainImages.txt (6 per class) and TestImages.txt (2)."""
    root = tmp_path / "mit67"
    write_tree(root / "Images", per_class=8)
    train = [f"class{k}/img{i:03d}.jpg" for k in range(3) for i in range(6)]
    test = [f"class{k}/img{i:03d}.jpg" for k in range(3) for i in range(6, 8)]
    (root / "TrainImages.txt").write_text("\r\n".join(train) + "\r\n")
    (root / "TestImages.txt").write_text("\n".join(test) + "\n")
    return root


@pytest.fixture
def fake_folder(tmp_path: Path) -> Path:
    """``train/class<k>/*.png`` (3 x 10) and ``test/class<k>/*.png`` (3 x 3)."""
    root = tmp_path / "folder"
    write_tree(root / "train", per_class=10, suffix=".png")
    write_tree(root / "test", per_class=3, suffix=".png", offset=100)
    return root


@pytest.fixture
def fake_imagenet(tmp_path: Path) -> Path:
    """``train/n0000000k/*.JPEG`` (3 x 10) and ``val/n0000000k/*.JPEG`` (3 x 2)."""
    root = tmp_path / "imagenet"
    for split, n, offset in (("train", 10, 0), ("val", 2, 500)):
        for k in range(3):
            for i in range(n):
                write_image(root / split / f"n{k:08d}" / f"n{k:08d}_{offset + i}.JPEG", COLOURS[k], offset + 50 * k + i)
    return root


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    """Write uint8 ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``); ``magic`` overrides the header's."""
    import gzip

    array = np.asarray(array, dtype=np.uint8)
    magic = (0x08 << 8) | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


def idx_images(labels: np.ndarray, size: int = 6) -> np.ndarray:
    """Images ``[N, size, size]`` whose pixel (r, c) of image i is ``(10 * label + r + c + i) % 256``."""
    n = len(labels)
    grid = np.add.outer(np.arange(size), np.arange(size))
    return ((10 * labels[:, None, None] + grid[None] + np.arange(n)[:, None, None]) % 256).astype(np.uint8)


@pytest.fixture
def idx_image_maker() -> Callable[..., np.ndarray]:
    """:func:`idx_images`, the pixel pattern of ``fake_idx``."""
    return idx_images


@pytest.fixture
def idx_writer() -> Callable[..., Path]:
    """:func:`write_idx`, for tests that write their own (broken) IDX files."""
    return write_idx


@pytest.fixture
def fake_idx(tmp_path: Path) -> Path:
    """``<tmp>/idx`` with 40 training (6x6, labels ``i % 4``, gzipped) and 12 test (plain) images."""
    root = tmp_path / "idx"
    train = np.arange(40) % 4
    test = np.arange(12) % 4
    write_idx(root / "train-images-idx3-ubyte.gz", idx_images(train))
    write_idx(root / "train-labels-idx1-ubyte.gz", train)
    write_idx(root / "t10k-images-idx3-ubyte", idx_images(test))
    write_idx(root / "t10k-labels-idx1-ubyte", test)
    return root
