"""``cifar10`` / ``cifar100``: the python versions of the official CIFAR archives.

Layouts (``root`` may be the parent folder or the batch folder itself):

* ``<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``
* ``<root>/cifar-100-python/{train, test, meta}`` (fine labels, 100 classes)

Each batch is a pickle holding ``b"data"`` (uint8 ``[N, 3072]``, channel-major CHW rows) and
``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100). Pickles can run code when loaded: only
point ``root`` at archives you trust. Images are 32x32 RGB; ``image_size`` other than 32 resizes
them bilinearly in memory. ``val`` is held out of the 50,000 training images; ``test`` is the
official test batch.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from nago.data.assemble import from_arrays
from nago.data.base import ArraySplit, DatasetSplits
from nago.data.registry import DATASETS, LoadOptions
from nago.errors import DataError

_SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html (the python version of the official archive)"
_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "batches.meta", b"labels", b"label_names"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", b"fine_labels", b"fine_label_names"),
}


def _unpickle(path: Path) -> dict[Any, Any]:
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError) as e:
        raise DataError(f"cannot read CIFAR pickle {path}: {type(e).__name__}: {e}") from e
    if not isinstance(obj, dict):
        raise DataError(f"CIFAR pickle {path} holds a {type(obj).__name__}, expected a dict")
    return obj


def _batch(path: Path, label_key: bytes) -> ArraySplit:
    obj = _unpickle(path)
    if b"data" not in obj or label_key not in obj:
        raise DataError(f"CIFAR pickle {path} lacks {b'data'!r} or {label_key!r} (keys: {sorted(obj)})")
    data = np.asarray(obj[b"data"])
    labels = np.asarray(obj[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DataError(
            f"CIFAR pickle {path}: data is {data.dtype} {data.shape} with {len(labels)} labels, "
            f"expected uint8 [N, 3072] with N labels"
        )
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return ArraySplit(images=images, labels=labels)


def _load(opts: LoadOptions) -> DatasetSplits:
    subdir, train_names, test_names, meta_name, label_key, names_key = _LAYOUTS[opts.name]
    layout = f"<root>/{subdir}/{{{', '.join(train_names + test_names + [meta_name])}}}"
    root = opts.require_root(layout, _SOURCE)
    folder = root / subdir if (root / subdir).is_dir() else root
    paths = [folder / n for n in train_names + test_names + [meta_name]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"dataset {opts.name!r}: missing {missing[0]}; expected {layout}; get it from {_SOURCE}")
    meta = _unpickle(paths[-1])
    if names_key not in meta:
        raise DataError(f"CIFAR meta file {paths[-1]} lacks {names_key!r} (keys: {sorted(meta)})")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in meta[names_key]]
    parts = {
        "train": [_batch(folder / n, label_key) for n in train_names],
        "test": [_batch(folder / n, label_key) for n in test_names],
    }
    merged = {
        k: ArraySplit(np.concatenate([b.images for b in v]), np.concatenate([b.labels for b in v]))
        for k, v in parts.items()
    }
    for split, data in merged.items():
        if len(data) and (data.labels.min() < 0 or data.labels.max() >= len(classes)):
            raise DataError(
                f"dataset {opts.name!r}: {split} labels span [{data.labels.min()}, {data.labels.max()}], "
                f"expected [0, {len(classes) - 1}] ({len(classes)} classes in {paths[-1]})"
            )
    return from_arrays(
        opts,
        train=merged["train"],
        test=merged["test"],
        classes=classes,
        info={"root": str(root), "sources": [str(p) for p in paths]},
    )


DATASETS.register("cifar10")(_load)
DATASETS.register("cifar100")(_load)
