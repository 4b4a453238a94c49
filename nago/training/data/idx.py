"""``idx`` / ``mnist`` / ``fashion-mnist``: the IDX files of MNIST, Fashion-MNIST, KMNIST and EMNIST.

Layout (each file plain or gzipped, ``<name>.gz``; plain wins where both exist)::

    <root>/train-images-idx3-ubyte   <root>/train-labels-idx1-ubyte
    <root>/t10k-images-idx3-ubyte    <root>/t10k-labels-idx1-ubyte

``root`` may also be a parent holding them in ``<root>/<dataset name>/`` (e.g. ``/usr/share/datasets``
with ``fashion-mnist``), ``<root>/raw/`` or torchvision's ``<root>/{MNIST,FashionMNIST}/raw/``.

The IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header, the magic number (two zero
bytes, a dtype byte, 0x08 = uint8, and a number-of-dimensions byte: 0x00000803 for images
``[N, rows, cols]``, 0x00000801 for labels ``[N]``), one big-endian uint32 per dimension, then the
data, uint8, row-major. Only uint8 files are read; images must be square.

Images are grey: ``[N, 28, 28, 1]`` uint8 (``image_size`` other than 28 resizes them bilinearly in
memory). ``test`` is the ``t10k`` pair; ``val`` is held out of the ``train`` pair (stratified,
seeded), as for the other datasets.

Classes: 10 for ``mnist`` (``"0"``..``"9"``) and ``fashion-mnist`` (its ten garment names); for
``idx`` the largest label + 1, named ``str(label)``. Labels at or above that count are refused,
and so is a split that holds a single class.

No decode-once cache: the data is already a uint8 array; reading it (gunzip + one ``frombuffer``,
about 0.3 s for Fashion-MNIST's 70,000 images) costs about what reading a 55 MB cached ``.npy``
would, and the cache would be a second copy on disk. EMNIST stores images transposed; nago reads
them as stored (a network does not care, a person looking at them does).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from nago.errors import DataError
from nago.training.data.assemble import from_arrays
from nago.training.data.base import ArraySplit, DatasetSplits
from nago.training.data.registry import DATASETS, LoadOptions

#: The four files of an IDX dataset, per split: (images, labels).
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: Class names of the datasets nago knows by name; ``idx`` names classes by their label.
CLASS_NAMES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}
_UINT8 = 0x08
_DTYPES = {0x08: "uint8", 0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}
_SOURCE = (
    "e.g. `apt-get install dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist), "
    "http://yann.lecun.com/exdb/mnist/ or https://github.com/zalandoresearch/fashion-mnist"
)
_SUBFOLDERS = {"mnist": ("MNIST/raw",), "fashion-mnist": ("FashionMNIST/raw",)}


def _read_bytes(path: Path) -> bytes:
    """The (gunzipped) contents of ``path``; :class:`DataError` naming it if unreadable."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"cannot read IDX file {path}: {type(e).__name__}: {e}") from e


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Read one uint8 IDX file (plain or ``.gz``).

    Args:
        path: the file.
        ndim: dimensions it must have: 3 for images ``[N, rows, cols]``, 1 for labels ``[N]``.

    Returns:
        A uint8 array of the header's shape (read-only view of the file's bytes).

    Raises:
        DataError: unreadable file, wrong magic number (not IDX, not uint8, or not ``ndim``
            dimensions), or a data size that differs from the header's (truncated or trailing bytes).
    """
    path = Path(path)
    raw = _read_bytes(path)
    expected_magic = (_UINT8 << 8) | ndim
    if len(raw) < 4:
        raise DataError(f"IDX file {path} is truncated: {len(raw)} bytes, shorter than the 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        if raw[0] or raw[1]:
            what = "not an IDX file (the first two bytes must be zero)"
        elif raw[2] != _UINT8:
            what = f"dtype byte 0x{raw[2]:02x} ({_DTYPES.get(raw[2], 'unknown')}); nago reads uint8 (0x08) only"
        else:
            what = f"{raw[3]} dimensions, expected {ndim}"
        raise DataError(
            f"IDX file {path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x}: {what}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {path} is truncated: {len(raw)} bytes, shorter than its {header}-byte header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != size:
        kind = "truncated" if len(raw) - header < size else "too long"
        raise DataError(
            f"IDX file {path} is {kind}: the header says shape {list(shape)} ({size} data bytes), "
            f"the file holds {len(raw) - header} data bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _folder(root: Path, dataset: str) -> Path:
    """The folder holding the IDX files: ``root`` itself, or the first known sub-folder that has them."""
    names = [n for pair in FILES.values() for n in pair]
    for sub in ("", dataset, "raw", *_SUBFOLDERS.get(dataset, ())):
        folder = root / sub if sub else root
        if all(_find(folder, n) for n in names):
            return folder
    return root


def _split(split: str, image_path: Path, label_path: Path) -> ArraySplit:
    """The images ``[N, S, S, 1]`` and int64 labels ``[N]`` of one split."""
    images = read_idx(image_path, 3)
    labels = read_idx(label_path, 1)
    if len(images) != len(labels):
        raise DataError(
            f"IDX {split} split: {image_path} holds {len(images)} images but {label_path} holds "
            f"{len(labels)} labels; they must match"
        )
    if images.shape[1] != images.shape[2]:
        raise DataError(
            f"IDX file {image_path}: images are {images.shape[1]}x{images.shape[2]} (rows x cols); "
            f"nago needs square images"
        )
    return ArraySplit(images=images[..., None], labels=labels.astype(np.int64))


def _classes(name: str, splits: dict[str, ArraySplit], label_files: dict[str, str]) -> list[str]:
    """Class names; refuses labels outside them and splits with a single class."""
    for split, data in splits.items():
        if len(data) == 0:
            raise DataError(f"dataset {name!r}: {label_files[split]} holds no labels (the {split} split is empty)")
    stated = CLASS_NAMES.get(name)
    top = max(int(s.labels.max()) for s in splits.values())
    classes = stated if stated is not None else [str(k) for k in range(top + 1)]
    for split, data in splits.items():
        if data.labels.max() >= len(classes):
            raise DataError(
                f"dataset {name!r}: {label_files[split]} has labels up to {data.labels.max()}, "
                f"allowed 0..{len(classes) - 1} ({len(classes)} classes of {name!r}); "
                f"use dataset = \"idx\" to take the number of classes from the labels"
            )
        present = np.unique(data.labels)
        if len(present) < 2:
            raise DataError(
                f"dataset {name!r}: {label_files[split]} holds a single class (label {present[0]}); "
                f"a classification split needs at least 2"
            )
    return list(classes)


def _load(opts: LoadOptions) -> DatasetSplits:
    """Load an IDX dataset (``opts.name``: ``idx``, ``mnist`` or ``fashion-mnist``) as uint8 ``[N, S, S, 1]``."""
    names = [n for pair in FILES.values() for n in pair]
    layout = f"<root>/{{{', '.join(names)}}} (each plain or .gz)"
    root = opts.require_root(layout, _SOURCE)
    folder = _folder(root, opts.name)
    found = {n: _find(folder, n) for n in names}
    missing = [n for n, p in found.items() if p is None]
    if missing:
        raise DataError(
            f"dataset {opts.name!r}: missing {', '.join(f'{folder / n}[.gz]' for n in missing)}; "
            f"expected {layout}; get them from {_SOURCE}"
        )
    paths = {split: (found[img], found[lab]) for split, (img, lab) in FILES.items()}
    splits = {split: _split(split, *pair) for split, pair in paths.items()}  # type: ignore[arg-type]
    sources = [str(p) for pair in paths.values() for p in pair]
    label_files = {split: str(pair[1]) for split, pair in paths.items()}
    classes = _classes(opts.name, splits, label_files)
    return from_arrays(
        opts,
        train=splits["train"],
        test=splits["test"],
        classes=classes,
        info={"root": str(folder), "sources": sources, "format": "IDX (uint8)"},
    )


for _name in ("idx", "mnist", "fashion-mnist"):
    DATASETS.register(_name)(_load)
