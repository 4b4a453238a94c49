"""Class-per-folder image trees: ``folder`` (any tree), ``sport8`` and ``mit67``.

A class tree is ``<dir>/<class>/<image>`` (images may sit in sub-folders of a class folder); class
names are the sorted folder names, hidden entries (such as ``.nago-cache``) are skipped, and images
are files with the extensions in :data:`IMAGE_EXTENSIONS` (any case). Where a dataset has no
published test split, nago generates one (stratified 20%, fixed seed 0) and records the file lists
in ``info["split_file"]``. Images are decoded once at ``image_size`` (default 224: shorter side
resized, centre crop) into the cache (:mod:`nago.training.data.cache`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from nago.training.data.assemble import from_files
from nago.training.data.base import DatasetSplits
from nago.training.data.registry import DATASETS, LoadOptions
from nago.training.data.split import generated_test_note, generated_test_split
from nago.errors import DataError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"})
_SPORT8_SOURCE = "http://vision.stanford.edu/lijiali/event_dataset/ (UIUC Sports Event Dataset, event_img)"
_MIT67_SOURCE = "http://web.mit.edu/torralba/www/indoor.html (Images/, TrainImages.txt, TestImages.txt)"


def _images_under(folder: Path) -> list[Path]:
    found: list[Path] = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(here) / n
            for n in sorted(names)
            if not n.startswith(".") and os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS
        ]
    return found


def list_class_tree(folder: Path, *, classes: Sequence[str] | None = None) -> tuple[list[str], list[Path], np.ndarray]:
    """List the images of a class tree.

    Args:
        folder: the ``<dir>`` of ``<dir>/<class>/<image>``.
        classes: the class list labels index (e.g. the training tree's); default: this tree's folders.

    Returns:
        ``(classes, files, labels)``: files sorted by class then path, labels int64 ``[N]``.

    Raises:
        DataError: ``folder`` is missing, has no class folders, defines a single class
            (a classifier needs at least 2), holds images outside them, a class
            folder has no images, or a folder names a class outside ``classes``.
    """
    expected = f"expected {folder}/<class>/<image> with extensions {', '.join(sorted(IMAGE_EXTENSIONS))}"
    if not folder.is_dir():
        raise DataError(f"{folder} is not a directory; {expected}")
    entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
    loose = [e.name for e in entries if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS]
    if loose:
        raise DataError(f"{folder} holds images outside class folders (e.g. {loose[0]}); {expected}")
    names = [e.name for e in entries if e.is_dir()]
    if not names:
        raise DataError(f"{folder} has no class folders; {expected}")
    classes = list(names if classes is None else classes)
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise DataError(f"{folder} has class folders {unknown[:5]} that the training split lacks")
    index = {c: i for i, c in enumerate(classes)}
    files: list[Path] = []
    labels: list[int] = []
    for name in names:
        found = _images_under(folder / name)
        if not found:
            raise DataError(f"class folder {folder / name} contains no images; {expected}")
        files += found
        labels += [index[name]] * len(found)
    if len(classes) == 1:  # would train to 100 % accuracy and say nothing
        raise DataError(f"{folder} has a single class folder ({names[0]!r}); a classifier needs at least 2 classes. "
                        f"If {folder / names[0]} holds the class folders, use it as the root; {expected}")
    return classes, files, np.asarray(labels, dtype=np.int64)


def _single_tree(opts: LoadOptions, root: Path, tree: Path) -> DatasetSplits:
    """A tree without a published test split: generate one (20%, seed 0)."""
    classes, files, labels = list_class_tree(tree)
    train_idx, test_idx = generated_test_split(labels)
    return from_files(
        opts,
        root=root,
        classes=classes,
        train=([files[i] for i in train_idx], labels[train_idx]),
        test=([files[i] for i in test_idx], labels[test_idx]),
        info={"sources": [str(tree)], "splits": {"test": generated_test_note(f"the {len(files)} images")}},
    )


@DATASETS.register("folder")
def load_folder(opts: LoadOptions) -> DatasetSplits:
    """Any class tree: ``<root>/train/<class>/*`` + ``<root>/test/<class>/*`` (+ optional ``val/``).

    With ``train/`` and ``test/``, they are the official splits and an optional ``val/`` tree is the
    official validation split (``val_fraction`` ignored). A ``train/`` without ``test/``, or a plain
    ``<root>/<class>/*`` tree, gets a generated test split.
    """
    layout = (
        "<root>/train/<class>/<image> and <root>/test/<class>/<image> (optional <root>/val/...), "
        "or <root>/<class>/<image>"
    )
    root = opts.require_root(layout, "your own images")
    train_dir, test_dir, val_dir = root / "train", root / "test", root / "val"
    if not (train_dir.is_dir() and test_dir.is_dir()):
        return _single_tree(opts, root, train_dir if train_dir.is_dir() else root)
    classes, files, labels = list_class_tree(train_dir)
    _, test_files, test_labels = list_class_tree(test_dir, classes=classes)
    val = list_class_tree(val_dir, classes=classes)[1:] if val_dir.is_dir() else None
    sources = [str(d) for d in (train_dir, val_dir, test_dir) if d.is_dir()]
    return from_files(
        opts,
        root=root,
        classes=classes,
        train=(files, labels),
        test=(test_files, test_labels),
        val=val,
        info={"sources": sources},
    )


@DATASETS.register("sport8")
def load_sport8(opts: LoadOptions) -> DatasetSplits:
    """UIUC Sports Event (8 classes, 1,579 images): ``<root>/<class>/*.jpg`` or ``<root>/event_img/<class>/*.jpg``.

    No official split exists: test is a generated stratified 20% (fixed seed 0).
    """
    root = opts.require_root("<root>/<class>/*.jpg (badminton, bocce, croquet, polo, ...)", _SPORT8_SOURCE)
    tree = root / "event_img" if (root / "event_img").is_dir() else root
    return _single_tree(opts, root, tree)


def _read_split_list(path: Path, images: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    index = {c: i for i, c in enumerate(classes)}
    files: list[Path] = []
    labels: list[int] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        rel = line.strip().replace("\\", "/")
        if not rel:
            continue
        cls = rel.split("/", 1)[0]
        if cls not in index or not (images / rel).is_file():
            raise DataError(f"{path}:{number}: {rel!r} is not an image under {images}/<class>/")
        files.append(images / rel)
        labels.append(index[cls])
    return files, np.asarray(labels, dtype=np.int64)


@DATASETS.register("mit67")
def load_mit67(opts: LoadOptions) -> DatasetSplits:
    """MIT Indoor Scenes (67 classes): ``<root>/Images/<class>/*.jpg`` (or ``<root>/<class>/*.jpg``).

    When ``<root>/TrainImages.txt`` and ``<root>/TestImages.txt`` exist (lines like
    ``kitchen/int474.jpg``, relative to ``Images/``), they are the official train/test split;
    otherwise test is a generated stratified 20% (fixed seed 0).
    """
    root = opts.require_root(
        "<root>/Images/<class>/*.jpg with <root>/TrainImages.txt and <root>/TestImages.txt", _MIT67_SOURCE
    )
    images = root / "Images" if (root / "Images").is_dir() else root
    lists = root / "TrainImages.txt", root / "TestImages.txt"
    if not all(p.is_file() for p in lists):
        return _single_tree(opts, root, images)
    classes = list_class_tree(images)[0]
    train, test = (_read_split_list(p, images, classes) for p in lists)
    return from_files(
        opts, root=root, classes=classes, train=train, test=test, info={"sources": [str(images), *map(str, lists)]}
    )
