"""End-to-end loads through ``load_dataset`` on tiny datasets in the real on-disk formats."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nago.training.data import DATASETS, DatasetSplits, load_dataset
from nago.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGO_NO_PROGRESS", "1")


def _check(ds: DatasetSplits, size: int, channels: int, classes: int) -> None:
    assert ds.image_size == size and ds.in_channels == channels and ds.num_classes == classes
    for split in (ds.train, ds.val, ds.test):
        assert split.images.dtype == np.uint8 and split.labels.dtype == np.int64
        assert split.images.shape == (len(split), size, size, channels)
        assert len(split) > 0 and split.labels.min() >= 0 and split.labels.max() < classes
    assert ds.info["sizes"] == {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)}
    assert len(ds.mean) == len(ds.std) == channels
    assert all(0 <= m <= 1 for m in ds.mean) and all(0 < s <= 1 for s in ds.std)


def _deny_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("image decoded although it is cached")

    monkeypatch.setattr(Image, "open", refuse)


# --- registry and arguments -------------------------------------------------------------------


def test_registry_names_and_unknown_dataset() -> None:
    assert {"digits", "cifar10", "cifar100", "flowers102", "sport8", "mit67", "imagenet", "folder"} <= set(
        DATASETS.names()
    )
    with pytest.raises(ConfigError, match="unknown dataset 'svhn'.*cifar10.*digits"):
        load_dataset("svhn")


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"image_size": 0}, "image_size"),
        ({"seed": -1}, "seed"),
        ({"max_train": 0}, "max_train"),
    ],
)
def test_bad_arguments(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_dataset("digits", **kwargs)


# --- digits -----------------------------------------------------------------------------------


def test_digits_end_to_end() -> None:
    ds = load_dataset("digits")
    _check(ds, 8, 1, 10)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 1797
    assert len(ds.test) == round(0.2 * 1797) and len(ds.val) == round(0.1 * (1797 - len(ds.test)))
    assert ds.train.images.max() == 255  # 16 -> 255
    idx = ds.info["split_indices"]
    assert sorted(idx["train_pool"] + idx["test"]) == list(range(1797))
    assert len(set(idx["val"])) == len(ds.val)
    # class balance of val follows the pool
    counts = np.bincount(ds.val.labels, minlength=10)
    assert counts.min() >= 12 and counts.max() <= 17


def test_info_is_json_serialisable(fake_sport8: Path) -> None:
    for ds in (load_dataset("digits", max_train=50), load_dataset("sport8", root=fake_sport8, image_size=8)):
        record = json.loads(json.dumps(ds.info))
        assert record["sizes"]["train"] == len(ds.train) and record["seed"] == 0


def test_digits_seed_moves_val_not_test() -> None:
    a, b, c = load_dataset("digits", seed=1), load_dataset("digits", seed=1), load_dataset("digits", seed=2)
    assert a.info["split_indices"]["val"] == b.info["split_indices"]["val"]
    assert a.info["split_indices"]["val"] != c.info["split_indices"]["val"]
    assert np.array_equal(a.test.images, c.test.images)


def test_digits_resize_and_max_train() -> None:
    ds = load_dataset("digits", image_size=16, max_train=100, val_fraction=0.2)
    _check(ds, 16, 1, 10)
    assert len(ds.train) == 100 and np.bincount(ds.train.labels).min() >= 9
    assert len(ds.val) == round(0.2 * 1438)
    assert ds.info["split_indices"]["train"] and "max_train" in ds.info["splits"]["train"]


# --- CIFAR ------------------------------------------------------------------------------------


@pytest.mark.parametrize("at_batch_dir", [False, True])
def test_cifar10(fake_cifar10: Path, at_batch_dir: bool) -> None:
    root = fake_cifar10 / "cifar-10-batches-py" if at_batch_dir else fake_cifar10
    ds = load_dataset("cifar10", root=root, val_fraction=0.2)
    _check(ds, 32, 3, 10)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (80, 20, 20)
    assert np.array_equal(np.bincount(ds.val.labels), [2] * 10)
    # CHW rows became HWC: channel c of test image i is (i + 60 c) % 256 everywhere
    img = ds.test.images[7]
    assert img.shape == (32, 32, 3) and np.all(img[..., 0] == 7) and np.all(img[..., 2] == 127)
    assert ds.info["classes"][3] == "c3" and len(ds.info["sources"]) == 7
    val_idx = ds.info["split_indices"]["val"]
    assert load_dataset("cifar10", root=root, val_fraction=0.2).info["split_indices"]["val"] == val_idx


def test_cifar100_and_resize(fake_cifar100: Path) -> None:
    ds = load_dataset("cifar100", root=fake_cifar100, image_size=16)
    _check(ds, 16, 3, 100)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (270, 30, 100)
    assert "16px" in ds.info["resize"]


def test_cifar_errors(fake_cifar10: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs root"):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="not a directory.*cs.toronto.edu"):
        load_dataset("cifar10", root=tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="missing .*data_batch_1.*cifar-10-batches-py"):
        load_dataset("cifar10", root=empty)
    batch = fake_cifar10 / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset("cifar10", root=fake_cifar10)
    with open(batch, "wb") as f:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, f)
    with pytest.raises(DataError, match=r"data_batch_3.*\[N, 3072\]"):
        load_dataset("cifar10", root=fake_cifar10)


# --- image-file datasets ----------------------------------------------------------------------


def test_flowers102_official_splits(fake_flowers: Path) -> None:
    ds = load_dataset("flowers102", root=fake_flowers, image_size=12, val_fraction=0.5)
    _check(ds, 12, 3, 3)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (6, 6, 6)
    assert "ignored" in ds.info["splits"]["val"]
    for split in (ds.train, ds.val, ds.test):
        assert np.array_equal(np.bincount(split.labels), [2, 2, 2])
    # class 0 is red: mean colour of its images
    red = ds.test.images[ds.test.labels == 0].reshape(-1, 3).mean(0)
    assert red[0] > 180 and red[2] < 80
    manifest = json.loads(Path(ds.info["split_file"]).read_text())
    assert manifest["test"]["files"][0] == "jpg/image_00005.jpg"
    assert all(Path(p).is_file() and Path(p).parent == fake_flowers / ".nago-cache" for p in ds.info["cache"].values())


def test_flowers102_errors(fake_flowers: Path) -> None:
    (fake_flowers / "jpg" / "image_00003.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="image_00003.jpg"):
        load_dataset("flowers102", root=fake_flowers, image_size=8)
    (fake_flowers / "jpg" / "image_00003.jpg").unlink()
    with pytest.raises(DataError, match="missing .*image_00003.jpg"):
        load_dataset("flowers102", root=fake_flowers, image_size=8)
    (fake_flowers / "setid.mat").write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(DataError, match="setid.mat"):
        load_dataset("flowers102", root=fake_flowers, image_size=8)
    (fake_flowers / "setid.mat").unlink()
    with pytest.raises(DataError, match="missing .*setid.mat.*robots.ox.ac.uk"):
        load_dataset("flowers102", root=fake_flowers, image_size=8)


def test_sport8_generated_split_is_fixed_and_recorded(fake_sport8: Path, tmp_path: Path) -> None:
    ds = load_dataset("sport8", root=fake_sport8, image_size=8, val_fraction=0.25)
    _check(ds, 8, 3, 3)
    assert len(ds.test) == 6 and np.array_equal(np.bincount(ds.test.labels), [2, 2, 2])
    assert len(ds.val) == 6 and len(ds.train) == 18
    assert ds.info["classes"] == ["class0", "class1", "class2"]
    assert "generated" in ds.info["splits"]["test"]
    other = load_dataset(
        "sport8", root=fake_sport8, image_size=8, val_fraction=0.25, seed=7, cache_dir=tmp_path / "elsewhere"
    )
    files = [json.loads(Path(d.info["split_file"]).read_text()) for d in (ds, other)]
    assert files[0]["test"] == files[1]["test"]  # test never depends on the seed
    assert files[0]["val"] != files[1]["val"]
    assert Path(other.info["split_file"]).parent == tmp_path / "elsewhere"
    assert set(files[0]["train"]["files"]).isdisjoint(files[0]["val"]["files"] + files[0]["test"]["files"])


def test_mit67_with_and_without_split_files(fake_mit67: Path) -> None:
    ds = load_dataset("mit67", root=fake_mit67, image_size=8)
    _check(ds, 8, 3, 3)
    assert len(ds.test) == 6 and len(ds.train) + len(ds.val) == 18
    manifest = json.loads(Path(ds.info["split_file"]).read_text())
    assert sorted(manifest["test"]["files"]) == [f"Images/class{k}/img{i:03d}.jpg" for k in range(3) for i in (6, 7)]
    (fake_mit67 / "TestImages.txt").unlink()
    generated = load_dataset("mit67", root=fake_mit67, image_size=8)
    assert len(generated.train) + len(generated.val) + len(generated.test) == 24
    assert "generated" in generated.info["splits"]["test"]


def test_mit67_bad_split_line(fake_mit67: Path) -> None:
    (fake_mit67 / "TestImages.txt").write_text("class0/img000.jpg\nkitchen/int474.jpg\n")
    with pytest.raises(DataError, match=r"TestImages.txt:2: 'kitchen/int474.jpg'"):
        load_dataset("mit67", root=fake_mit67, image_size=8)


def test_folder_train_test_and_single_tree(fake_folder: Path, tmp_path: Path, tree_writer) -> None:
    ds = load_dataset("folder", root=fake_folder, image_size=8, val_fraction=0.2)
    _check(ds, 8, 3, 3)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (24, 6, 9)
    assert np.array_equal(np.bincount(ds.val.labels), [2, 2, 2])
    single = load_dataset("folder", root=fake_folder / "train", image_size=8, cache_dir=tmp_path / "c")
    assert len(single.train) + len(single.val) + len(single.test) == 30
    # a val/ tree is used as the official validation split
    tree_writer(fake_folder / "val", per_class=2, suffix=".png", offset=200)
    with_val = load_dataset("folder", root=fake_folder, image_size=8)
    assert (len(with_val.train), len(with_val.val)) == (30, 6)


def test_folder_layout_errors(tmp_path: Path, tree_writer) -> None:
    (tmp_path / "a" / "empty_class").mkdir(parents=True)
    with pytest.raises(DataError, match="empty_class contains no images"):
        load_dataset("folder", root=tmp_path / "a")
    (tmp_path / "b").mkdir()
    with pytest.raises(DataError, match="has no class folders"):
        load_dataset("folder", root=tmp_path / "b")
    tree_writer(tmp_path / "c" / "train", per_class=5, classes=2)
    tree_writer(tmp_path / "c" / "test", per_class=2, classes=3)
    with pytest.raises(DataError, match="class2"):
        load_dataset("folder", root=tmp_path / "c")
    tree_writer(tmp_path / "d", per_class=2, classes=2)
    with pytest.raises(DataError, match="val split is empty"):
        load_dataset("folder", root=tmp_path / "d", image_size=8, val_fraction=0.05)


def test_imagenet_val_is_test(fake_imagenet: Path) -> None:
    ds = load_dataset("imagenet", root=fake_imagenet, image_size=8)
    _check(ds, 8, 3, 3)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (27, 3, 6)
    assert ds.info["classes"] == [f"n{k:08d}" for k in range(3)]
    stray = next((fake_imagenet / "val" / "n00000001").iterdir())
    stray.rename(fake_imagenet / "val" / stray.name)
    with pytest.raises(DataError, match=f"val holds images outside class folders .*{stray.name}"):
        load_dataset("imagenet", root=fake_imagenet, image_size=8)
    for i, f in enumerate(sorted((fake_imagenet / "val").rglob("*.JPEG"))):  # flat val/, as in the raw archive
        f.rename(fake_imagenet / "val" / f"ILSVRC2012_val_{i:08d}.JPEG")
    with pytest.raises(DataError, match="is flat.*valprep"):
        load_dataset("imagenet", root=fake_imagenet, image_size=8)


def test_cache_reused_without_decoding(fake_imagenet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_dataset("imagenet", root=fake_imagenet, image_size=8, max_train=12)
    assert len(first.train) == 12
    _deny_decoding(monkeypatch)
    second = load_dataset("imagenet", root=fake_imagenet, image_size=8, max_train=12)
    assert isinstance(second.train.images, np.memmap)
    for a, b in ((first.train, second.train), (first.val, second.val), (first.test, second.test)):
        assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert second.info["cache"] == first.info["cache"]
    with pytest.raises(AssertionError, match="decoded"):  # another seed -> another train split -> decode
        load_dataset("imagenet", root=fake_imagenet, image_size=8, max_train=12, seed=1)


def test_max_train_decodes_only_the_subset(fake_sport8: Path) -> None:
    ds = load_dataset("sport8", root=fake_sport8, image_size=8, max_train=6)
    assert len(ds.train) == 6 and np.array_equal(np.bincount(ds.train.labels), [2, 2, 2])
    assert np.load(ds.info["cache"]["train"], mmap_mode="r").shape[0] == 6



@pytest.mark.parametrize("layout", ["plain", "train_test", "nested", "sport8", "mit67"])
def test_a_single_class_tree_is_refused_naming_the_folder(tmp_path: Path, tree_writer, layout: str) -> None:
    """One class folder would train to 100 % accuracy without a word: refused, naming the folder."""
    root = tmp_path / "data"
    tree = {"plain": root, "train_test": root / "train", "nested": root, "sport8": root / "event_img",
            "mit67": root / "Images"}[layout]
    if layout == "nested":  # the root one level too high: its only "class" is the folder of class folders
        tree_writer(root / "images", per_class=3, classes=2)
        only = "images"
    else:
        tree_writer(tree, per_class=3, classes=1)
        only = "class0"
    if layout == "train_test":
        tree_writer(root / "test", per_class=2, classes=1)
    name = {"sport8": "sport8", "mit67": "mit67"}.get(layout, "folder")
    with pytest.raises(DataError, match=f"{re.escape(str(tree))} has a single class folder \\('{only}'\\)") as info:
        load_dataset(name, root=root, image_size=8)
    assert "at least 2 classes" in str(info.value)
