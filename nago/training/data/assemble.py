"""Turn a loader's official splits into :class:`DatasetSplits`: validation hold-out, ``max_train``
subsample, resizing or decode-once caching, normalisation constants and the ``info`` record.

Two entry points: :func:`from_arrays` for datasets that arrive as arrays (digits, CIFAR) and
:func:`from_files` for image-file datasets (decoded once into the cache, see :mod:`nago.training.data.cache`).

``mean``/``std`` are computed per channel, in ``[0, 1]`` pixel units, from the final training split
(on at most 10,000 evenly spaced images, fewer for big images), so they match what is trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from nago.training.data.base import ArraySplit, DatasetSplits
from nago.training.data.cache import cached_decode, files_key, write_json_once
from nago.training.data.registry import LoadOptions
from nago.training.data.split import stratified_split, stratified_subset
from nago.errors import DataError

#: Default side length of the large-image datasets.
LARGE_IMAGE_SIZE = 224
_STATS_MAX_IMAGES = 10_000
_STATS_MAX_BYTES = 100_000_000


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in ``[0, 1]`` units of uint8 ``images [N, H, W, C]`` (a sample if big).

    Uses per-channel value histograms, so the sums are exact and no float copy of the images is made.
    """
    n, h, w, c = images.shape
    if n == 0:
        return (0.0,) * c, (1.0,) * c
    budget = max(1, min(_STATS_MAX_IMAGES, _STATS_MAX_BYTES // (h * w * c)))
    idx = np.unique(np.linspace(0, n - 1, min(n, budget)).astype(np.int64))
    hist = np.zeros((c, 256), dtype=np.int64)
    for start in range(0, len(idx), 256):
        chunk = np.asarray(images[idx[start : start + 256]])
        for k in range(c):
            hist[k] += np.bincount(chunk[..., k].ravel(), minlength=256)
    values = np.arange(256) / 255.0
    count = hist.sum(1)
    mean = hist @ values / count
    std = np.sqrt(np.maximum(hist @ values**2 / count - mean**2, 0.0))
    std = np.where(std > 0, std, 1.0)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def resize_square(images: np.ndarray, size: int) -> np.ndarray:
    """Resize square uint8 images ``[N, S, S, C]`` (C = 1 or 3) to ``[N, size, size, C]``, bilinear."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    for i, img in enumerate(images):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        out[i] = np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR)).reshape(size, size, -1)
    return out


def _check_nonempty(name: str, sizes: dict[str, int]) -> None:
    for split, n in sizes.items():
        if n == 0:
            listed = ", ".join(f"{k}={v}" for k, v in sizes.items())
            raise DataError(
                f"dataset {name!r}: the {split} split is empty ({listed}); the dataset has too few "
                f"images per class for the requested val_fraction / max_train"
            )


def _hold_out(
    opts: LoadOptions, labels: np.ndarray, official_val: bool
) -> tuple[np.ndarray, np.ndarray | None, dict[str, str]]:
    """Training indices, generated validation indices (``None`` if official) and their description."""
    notes: dict[str, str] = {}
    if official_val:
        kept, val_idx = np.arange(len(labels), dtype=np.int64), None
        notes["val"] = "official validation split (val_fraction ignored)"
    else:
        kept, val_idx = stratified_split(labels, opts.val_fraction, opts.seed)
        notes["val"] = f"generated: stratified {opts.val_fraction:g} of the training data, seed {opts.seed}"
    notes["train"] = "training data" + ("" if official_val else " minus val")
    if opts.max_train is not None and opts.max_train < len(kept):
        kept = kept[stratified_subset(labels[kept], opts.max_train, opts.seed)]
        notes["train"] += f", stratified subsample of {len(kept)} (max_train, seed {opts.seed})"
    return kept, val_idx, notes


def _finish(
    opts: LoadOptions, splits: dict[str, ArraySplit], classes: Sequence[str], info: dict[str, Any]
) -> DatasetSplits:
    _check_nonempty(opts.name, {k: len(v) for k, v in splits.items()})
    train = splits["train"]
    mean, std = channel_stats(train.images)
    _, size, _, channels = train.images.shape
    info = {
        "sizes": {k: len(v) for k, v in splits.items()},
        "seed": opts.seed,
        "val_fraction": opts.val_fraction,
        "max_train": opts.max_train,
        "image_size": size,
        "classes": list(classes),
        "normalisation": "mean/std per channel computed from the train split",
        **info,
    }
    return DatasetSplits(
        name=opts.name,
        train=train,
        val=splits["val"],
        test=splits["test"],
        num_classes=len(classes),
        image_size=size,
        in_channels=channels,
        mean=mean,
        std=std,
        info=info,
    )


def from_arrays(
    opts: LoadOptions,
    *,
    train: ArraySplit,
    test: ArraySplit,
    classes: Sequence[str],
    info: dict[str, Any],
) -> DatasetSplits:
    """Assemble an in-memory dataset: hold out ``val`` from ``train``, subsample, resize if asked.

    ``image_size`` other than the native size resizes every image (bilinear) in memory.
    ``info["split_indices"]`` gains the generated indices into the official train arrays:
    ``val`` always, ``train`` when ``max_train`` is set (otherwise train is the rest).
    """
    info = dict(info)
    kept, val_idx, notes = _hold_out(opts, train.labels, official_val=False)
    indices = dict(info.pop("split_indices", {}))
    indices["val"] = val_idx.tolist()
    if opts.max_train is not None:
        indices["train"] = kept.tolist()
    size = opts.size(train.images.shape[1])
    parts = {"train": (train, kept), "val": (train, val_idx), "test": (test, None)}
    splits = {
        k: ArraySplit(
            images=resize_square(src.images if idx is None else src.images[idx], size),
            labels=np.asarray(src.labels if idx is None else src.labels[idx], dtype=np.int64),
        )
        for k, (src, idx) in parts.items()
    }
    native = train.images.shape[1]
    resize = "native" if size == native else f"bilinear {native}px -> {size}px in memory"
    splits_note = {**notes, **info.pop("splits", {"test": "official test"})}
    return _finish(opts, splits, classes, {**info, "splits": splits_note, "resize": resize, "split_indices": indices})


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def from_files(
    opts: LoadOptions,
    *,
    root: Path,
    classes: Sequence[str],
    train: tuple[Sequence[Path], np.ndarray],
    test: tuple[Sequence[Path], np.ndarray],
    val: tuple[Sequence[Path], np.ndarray] | None = None,
    info: dict[str, Any],
) -> DatasetSplits:
    """Assemble an image-file dataset: choose files per split, then decode once into the cache.

    Args:
        opts: load options.
        root: resolved dataset root (paths in the split file are relative to it).
        classes: class names; labels index this list.
        train, test: ``(files, labels [N] int64)`` of the official (or generated) splits.
        val: the official validation split, if the dataset publishes one (then ``val_fraction``
            is ignored); else ``val`` is held out of ``train``.
        info: loader-specific entries (sources, how a generated test split was made).

    Every split is decoded to ``image_size`` (default 224) into ``<cache>/<name>-<split>-<size>px-<hash>.npy``;
    the file lists and labels of all three splits go to ``<cache>/<name>-splits-<hash>.json``
    (``info["split_file"]``).
    """
    info = dict(info)
    files, labels = list(train[0]), np.asarray(train[1], dtype=np.int64)
    kept, val_idx, notes = _hold_out(opts, labels, official_val=val is not None)
    chosen = {
        "train": ([files[i] for i in kept], labels[kept]),
        "val": val if val is not None else ([files[i] for i in val_idx], labels[val_idx]),
        "test": test,
    }
    _check_nonempty(opts.name, {k: len(v[0]) for k, v in chosen.items()})
    size = opts.size(LARGE_IMAGE_SIZE)
    cache = opts.cache_path(root)
    splits: dict[str, ArraySplit] = {}
    cache_files: dict[str, str] = {}
    manifest: dict[str, Any] = {"dataset": opts.name, "root": str(root), "classes": list(classes)}
    for split, (split_files, split_labels) in chosen.items():
        rel = [_rel(p, root) for p in split_files]
        path = cache / f"{opts.name}-{split}-{size}px-{files_key(rel, opts.name, split, size)}.npy"
        images = cached_decode(
            split_files, path=path, size=size, desc=f"{opts.name}/{split} {size}px", progress=opts.progress
        )
        splits[split] = ArraySplit(images=images, labels=np.asarray(split_labels, dtype=np.int64))
        cache_files[split] = str(path)
        manifest[split] = {"files": rel, "labels": splits[split].labels.tolist()}
    key = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
    split_file = write_json_once(cache / f"{opts.name}-splits-{key}.json", manifest)
    splits_note = {**notes, **info.pop("splits", {"test": "official test"})}
    extra = {
        "root": str(root),
        "cache": cache_files,
        "split_file": str(split_file),
        "splits": splits_note,
        "resize": f"shorter side to {size}px (bilinear), centre crop {size}x{size}, decoded once",
    }
    return _finish(opts, splits, classes, {**info, **extra})
