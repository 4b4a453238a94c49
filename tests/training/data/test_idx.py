"""The IDX loader (``idx`` / ``mnist`` / ``fashion-mnist``) on tiny IDX files written in tmp_path."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from nago.config.sections import DATASET_SHAPES
from nago.errors import DataError
from nago.training.data import DATASETS, load_dataset
from nago.training.data.idx import CLASS_NAMES, read_idx


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGO_NO_PROGRESS", "1")


def _paths(root: Path) -> dict[str, Path]:
    return {
        "train_images": root / "train-images-idx3-ubyte.gz",
        "train_labels": root / "train-labels-idx1-ubyte.gz",
        "test_images": root / "t10k-images-idx3-ubyte",
        "test_labels": root / "t10k-labels-idx1-ubyte",
    }


# --- loading ----------------------------------------------------------------------------------


def test_registered_names_share_one_loader() -> None:
    assert {"idx", "mnist", "fashion-mnist"} <= set(DATASETS.names())
    assert DATASETS.get("idx") is DATASETS.get("mnist") is DATASETS.get("Fashion-MNIST")
    for name in ("idx", "mnist", "fashion-mnist"):
        assert DATASET_SHAPES[name] == (1, 28, 10)


def test_idx_end_to_end(fake_idx: Path, idx_image_maker: Callable[..., np.ndarray]) -> None:
    ds = load_dataset("idx", root=fake_idx, val_fraction=0.1)
    assert (ds.image_size, ds.in_channels, ds.num_classes) == (6, 1, 4)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (36, 4, 12)
    for split in (ds.train, ds.val, ds.test):
        assert split.images.dtype == np.uint8 and split.images.shape == (len(split), 6, 6, 1)
        assert split.labels.dtype == np.int64
    assert np.array_equal(np.bincount(ds.val.labels), [1, 1, 1, 1])  # stratified
    # the test split is the t10k pair, pixel for pixel, in file order
    labels = np.arange(12) % 4
    assert np.array_equal(ds.test.labels, labels)
    assert np.array_equal(ds.test.images[..., 0], idx_image_maker(labels))
    assert ds.info["classes"] == ["0", "1", "2", "3"]
    assert ds.info["sources"] == [str(p) for p in _paths(fake_idx).values()]
    assert ds.info["splits"]["test"] == "official test"
    # the validation split is seeded: same seed, same split; another seed, another split
    val = ds.info["split_indices"]["val"]
    assert load_dataset("idx", root=fake_idx, val_fraction=0.1).info["split_indices"]["val"] == val
    assert load_dataset("idx", root=fake_idx, val_fraction=0.1, seed=3).info["split_indices"]["val"] != val


def test_read_idx_plain_and_gzipped_agree(tmp_path: Path, idx_writer: Callable[..., Path]) -> None:
    images = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    plain = read_idx(idx_writer(tmp_path / "a-idx3-ubyte", images), 3)
    packed = read_idx(idx_writer(tmp_path / "b-idx3-ubyte.gz", images), 3)
    assert plain.dtype == np.uint8 and np.array_equal(plain, images) and np.array_equal(packed, images)


def test_class_names_by_dataset_name(fake_idx: Path) -> None:
    assert load_dataset("mnist", root=fake_idx).info["classes"] == [str(d) for d in range(10)]
    fashion = load_dataset("fashion-mnist", root=fake_idx)
    assert fashion.num_classes == 10 and fashion.info["classes"] == CLASS_NAMES["fashion-mnist"]
    assert fashion.info["classes"][0] == "T-shirt/top" and fashion.info["classes"][9] == "Ankle boot"


def test_resize_and_max_train(fake_idx: Path) -> None:
    ds = load_dataset("idx", root=fake_idx, image_size=4, max_train=20, val_fraction=0.2)
    assert ds.image_size == 4 and ds.train.images.shape == (20, 4, 4, 1) and ds.test.images.shape == (12, 4, 4, 1)
    assert np.array_equal(np.bincount(ds.train.labels), [5, 5, 5, 5]) and len(ds.val) == 8
    assert "max_train" in ds.info["splits"]["train"] and "4px" in ds.info["resize"]


@pytest.mark.parametrize("sub", ["fashion-mnist", "raw", "FashionMNIST/raw"])
def test_root_may_be_a_parent(fake_idx: Path, tmp_path: Path, sub: str) -> None:
    parent = tmp_path / "datasets"
    shutil.copytree(fake_idx, parent / sub)
    ds = load_dataset("fashion-mnist", root=parent)
    assert ds.info["root"] == str((parent / sub).resolve()) and len(ds.test) == 12


# --- errors -----------------------------------------------------------------------------------


def test_missing_root_and_files(fake_idx: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs root.*train-images-idx3-ubyte.*dataset-fashion-mnist"):
        load_dataset("mnist")
    _paths(fake_idx)["test_labels"].unlink()
    with pytest.raises(DataError, match=r"missing \S*t10k-labels-idx1-ubyte\[\.gz\]; expected .*plain or \.gz"):
        load_dataset("idx", root=fake_idx)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="missing .*train-images.*train-labels.*t10k-images.*t10k-labels"):
        load_dataset("idx", root=empty)


@pytest.mark.parametrize(
    "magic,what",
    [
        (0x12340803, "first two bytes must be zero"),
        (0x00000D03, r"dtype byte 0x0d \(float32\); nago reads uint8"),
        (0x00000802, "2 dimensions, expected 3"),
    ],
)
def test_wrong_magic_number(fake_idx: Path, idx_writer: Callable[..., Path], magic: int, what: str) -> None:
    path = _paths(fake_idx)["train_images"]
    idx_writer(path, np.zeros((40, 6, 6)), magic=magic)
    with pytest.raises(DataError, match=rf"train-images-idx3-ubyte\.gz: wrong magic number 0x{magic:08x}.*{what}"):
        load_dataset("idx", root=fake_idx)


def test_labels_file_with_image_magic(fake_idx: Path, idx_writer: Callable[..., Path]) -> None:
    idx_writer(_paths(fake_idx)["test_labels"], np.zeros((12, 6, 6)))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: wrong magic number 0x00000803, expected 0x00000801"):
        load_dataset("idx", root=fake_idx)


def test_truncated_files(fake_idx: Path) -> None:
    path = _paths(fake_idx)["test_images"]
    full = path.read_bytes()
    path.write_bytes(full[:-5])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte is truncated: .*\[12, 6, 6\] \(432 data bytes\).*427"):
        load_dataset("idx", root=fake_idx)
    path.write_bytes(full[:10])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is truncated: 10 bytes, shorter than its 16-byte"):
        load_dataset("idx", root=fake_idx)
    path.write_bytes(full[:2])
    with pytest.raises(DataError, match="truncated: 2 bytes"):
        load_dataset("idx", root=fake_idx)
    path.write_bytes(full + b"\0")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is too long"):
        load_dataset("idx", root=fake_idx)


def test_damaged_gzip(fake_idx: Path) -> None:
    path = _paths(fake_idx)["train_labels"]
    packed = path.read_bytes()
    path.write_bytes(packed[: len(packed) // 2])  # gzip stream cut short
    with pytest.raises(DataError, match=r"cannot read IDX file .*train-labels-idx1-ubyte\.gz: EOFError"):
        load_dataset("idx", root=fake_idx)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"cannot read IDX file .*train-labels-idx1-ubyte\.gz"):
        load_dataset("idx", root=fake_idx)
    assert gzip.decompress(packed)  # the fixture itself was fine


def test_image_and_label_counts_differ(fake_idx: Path, idx_writer: Callable[..., Path]) -> None:
    idx_writer(_paths(fake_idx)["test_labels"], np.arange(11) % 4)
    msg = r"t10k-images-idx3-ubyte holds 12 images but \S*t10k-labels-idx1-ubyte holds 11"
    with pytest.raises(DataError, match=msg):
        load_dataset("idx", root=fake_idx)


def test_labels_out_of_range(fake_idx: Path, idx_writer: Callable[..., Path]) -> None:
    labels = np.arange(12) % 4
    labels[3] = 10
    idx_writer(_paths(fake_idx)["test_labels"], labels)
    with pytest.raises(DataError, match=r"'mnist': \S*t10k-labels-idx1-ubyte has labels up to 10, allowed 0\.\.9"):
        load_dataset("mnist", root=fake_idx)
    ds = load_dataset("idx", root=fake_idx)  # idx takes the class count from the labels
    assert ds.num_classes == 11 and ds.info["classes"][-1] == "10"


def test_single_class_split(fake_idx: Path, idx_writer: Callable[..., Path]) -> None:
    idx_writer(_paths(fake_idx)["test_labels"], np.full(12, 2))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte holds a single class \(label 2\)"):
        load_dataset("idx", root=fake_idx)


def test_empty_and_non_square(fake_idx: Path, idx_writer: Callable[..., Path]) -> None:
    paths = _paths(fake_idx)
    idx_writer(paths["test_images"], np.zeros((0, 6, 6)))
    idx_writer(paths["test_labels"], np.zeros(0))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte holds no labels"):
        load_dataset("idx", root=fake_idx)
    idx_writer(paths["test_images"], np.zeros((12, 6, 5)))
    idx_writer(paths["test_labels"], np.arange(12) % 4)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: images are 6x5.*square"):
        load_dataset("idx", root=fake_idx)
