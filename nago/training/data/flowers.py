"""``flowers102``: Oxford 102 Flowers (Nilsback & Zisserman 2008), 8,189 images, 102 classes.

Layout: ``<root>/jpg/image_00001.jpg ...`` (from ``102flowers.tgz``), ``<root>/imagelabels.mat``
(``labels``: 1-based classes, shape ``[1, 8189]``) and ``<root>/setid.mat`` (``trnid``, ``valid``,
``tstid``: 1-based image ids). nago uses the official assignment as published: ``trnid`` (10 per
class) is train, ``valid`` (10 per class) is val, so ``val_fraction`` is ignored, and ``tstid``
(6,149) is test. Images are decoded once at ``image_size`` (default 224) into the cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nago.training.data.assemble import from_files
from nago.training.data.base import DatasetSplits
from nago.training.data.registry import DATASETS, LoadOptions
from nago.errors import DataError

_SOURCE = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, imagelabels.mat, setid.mat)"
_LAYOUT = "<root>/jpg/image_%05d.jpg, <root>/imagelabels.mat and <root>/setid.mat"


def _loadmat(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    if not path.is_file():
        raise DataError(f"dataset 'flowers102': missing {path}; expected {_LAYOUT}; get it from {_SOURCE}")
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises many types (ValueError, TypeError, MatReadError, ...) on bad files
        raise DataError(f"cannot read MATLAB file {path}: {type(e).__name__}: {e}") from e
    missing = [k for k in keys if k not in mat]
    if missing:
        raise DataError(f"MATLAB file {path} lacks {missing}; expected variables {list(keys)}")
    return {k: np.asarray(mat[k]).ravel().astype(np.int64) for k in keys}


@DATASETS.register("flowers102")
def load_flowers102(opts: LoadOptions) -> DatasetSplits:
    """Load Oxford 102 Flowers with its official train / val / test ids."""
    root = opts.require_root(_LAYOUT, _SOURCE)
    labels_path, setid_path = root / "imagelabels.mat", root / "setid.mat"
    labels = _loadmat(labels_path, ("labels",))["labels"]
    ids = _loadmat(setid_path, ("trnid", "valid", "tstid"))
    if len(labels) == 0 or labels.min() < 1:
        raise DataError(f"{labels_path}: labels must be 1-based class numbers (found min {labels.min(initial=0)})")
    num_classes = int(labels.max())

    def split(key: str) -> tuple[list[Path], np.ndarray]:
        chosen = ids[key]
        if len(chosen) and (chosen.min() < 1 or chosen.max() > len(labels)):
            raise DataError(f"{setid_path}: {key} holds image ids outside 1..{len(labels)}")
        files = [root / "jpg" / f"image_{i:05d}.jpg" for i in chosen]
        absent = next((f for f in files if not f.is_file()), None)
        if absent is not None:
            raise DataError(f"dataset 'flowers102': missing {absent}; expected {_LAYOUT}; get it from {_SOURCE}")
        return files, labels[chosen - 1] - 1

    return from_files(
        opts,
        root=root,
        classes=[str(c) for c in range(1, num_classes + 1)],
        train=split("trnid"),
        val=split("valid"),
        test=split("tstid"),
        info={
            "sources": [str(root / "jpg"), str(labels_path), str(setid_path)],
            "splits": {"test": "official test (setid.mat tstid)"},
        },
    )
