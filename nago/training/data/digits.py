"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, 1 channel).

No files are needed (``root`` is ignored). Pixel values 0..16 become uint8 ``round(v * 255 / 16)``.
The data has no official test split, so nago generates one: a stratified 20% of the images with
the fixed seed 0, the same test set for every run. ``info["split_indices"]`` records it:
``train_pool`` and ``test`` index the 1,797 images; ``val`` (and ``train`` with ``max_train``)
index ``train_pool``. ``val`` is held out of the remaining 80% with the user's seed.
"""

from __future__ import annotations

import numpy as np

from nago.training.data.assemble import from_arrays
from nago.training.data.base import ArraySplit, DatasetSplits
from nago.training.data.registry import DATASETS, LoadOptions
from nago.training.data.split import generated_test_note, generated_test_split


@DATASETS.register("digits")
def load_digits(opts: LoadOptions) -> DatasetSplits:
    """Load the 8x8 digits as ``[N, 8, 8, 1]`` uint8 (or ``image_size``, resized bilinearly)."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = generated_test_split(labels)
    return from_arrays(
        opts,
        train=ArraySplit(images=images[train_idx], labels=labels[train_idx]),
        test=ArraySplit(images=images[test_idx], labels=labels[test_idx]),
        classes=[str(d) for d in range(10)],
        info={
            "root": None,
            "sources": ["sklearn.datasets.load_digits"],
            "splits": {"test": generated_test_note(f"all {len(labels)} images")},
            "split_indices": {"train_pool": train_idx.tolist(), "test": test_idx.tolist()},
        },
    )
