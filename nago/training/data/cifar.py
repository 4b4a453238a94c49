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
from typing import Any, NamedTuple

import numpy as np

from nago.training.data.assemble import from_arrays
from nago.training.data.base import ArraySplit, DatasetSplits
from nago.training.data.registry import DATASETS, LoadOptions
from nago.errors import DataError

_SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html (the python version of the official archive)"


class _Layout(NamedTuple):
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    label_key: bytes
    names_key: bytes


_LAYOUTS = {
    "cifar10": _Layout(
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "batches.meta",
        b"labels",
        b"label_names",
    ),
    "cifar100": _Layout("cifar-100-python", ("train",), ("test",), "meta", b"fine_labels", b"fine_label_names"),
}
# what unpickling a damaged or foreign file can raise
_PICKLE_ERRORS = (
    OSError,
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    ImportError,
    IndexError,
    KeyError,
)


def _unpickle(path: Path) -> dict[Any, Any]:
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="bytes")
    except _PICKLE_ERRORS as e:
        raise DataError(f"cannot read CIFAR pickle {path}: {type(e).__name__}: {e}") from e
    if not isinstance(obj, dict):
        raise DataError(f"CIFAR pickle {path} holds a {type(obj).__name__}, expected a dict")
    return obj


def _batch(path: Path, label_key: bytes) -> ArraySplit:
    obj = _unpickle(path)
    if b"data" not in obj or label_key not in obj:
        raise DataError(f"CIFAR pickle {path} lacks {b'data'!r} or {label_key!r} (keys: {sorted(map(repr, obj))})")
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
    """Load CIFAR-10 or CIFAR-100 (``opts.name``) as uint8 ``[N, 32, 32, 3]`` arrays."""
    lay = _LAYOUTS[opts.name]
    names = [*lay.train, *lay.test, lay.meta]
    layout = f"<root>/{lay.folder}/{{{', '.join(names)}}}"
    root = opts.require_root(layout, _SOURCE)
    folder = root / lay.folder if (root / lay.folder).is_dir() else root
    paths = [folder / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"dataset {opts.name!r}: missing {missing[0]}; expected {layout}; get it from {_SOURCE}")
    meta = _unpickle(paths[-1])
    if lay.names_key not in meta:
        raise DataError(f"CIFAR meta file {paths[-1]} lacks {lay.names_key!r} (keys: {sorted(map(repr, meta))})")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in meta[lay.names_key]]
    parts = {
        "train": [_batch(folder / n, lay.label_key) for n in lay.train],
        "test": [_batch(folder / n, lay.label_key) for n in lay.test],
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
