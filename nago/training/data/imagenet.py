"""``imagenet``: ILSVRC-2012 in class-folder form, 1,000 classes.

Layout: ``<root>/train/<wnid>/*.JPEG`` and ``<root>/val/<wnid>/*.JPEG``. The official validation
images are nago's ``test`` split; nago's ``val`` is held out of train (``val_fraction``, seeded).
The raw validation archive is flat (``val/ILSVRC2012_val_*.JPEG``): sort it into ``<wnid>/`` folders
first (e.g. with the widely used ``valprep.sh``). Images are decoded once at ``image_size``
(default 224: shorter side resized, centre crop) into the cache; at 224 px that is about 150 KB
per image (~190 GB for the full train split), so searches usually pass a smaller ``image_size``
and/or ``max_train``, which also limit what is decoded.
"""

from __future__ import annotations

from nago.training.data.assemble import from_files
from nago.training.data.base import DatasetSplits
from nago.training.data.folder import list_class_tree
from nago.training.data.registry import DATASETS, LoadOptions
from nago.errors import DataError

_SOURCE = "https://image-net.org/download (ILSVRC2012 train and val, val sorted into <wnid>/ folders)"


@DATASETS.register("imagenet")
def load_imagenet(opts: LoadOptions) -> DatasetSplits:
    """Load ImageNet from ``<root>/train/<wnid>/`` and ``<root>/val/<wnid>/`` (val is the test split)."""
    layout = "<root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG"
    root = opts.require_root(layout, _SOURCE)
    for sub in ("train", "val"):
        if not (root / sub).is_dir():
            raise DataError(f"dataset 'imagenet': missing {root / sub}; expected {layout}; get it from {_SOURCE}")
    if any(p.suffix.upper() == ".JPEG" for p in (root / "val").glob("ILSVRC2012_val_*")):
        raise DataError(
            f"dataset 'imagenet': {root / 'val'} is flat (ILSVRC2012_val_*.JPEG); sort it into "
            f"<wnid>/ folders first (e.g. with valprep.sh); expected {layout}"
        )
    classes, files, labels = list_class_tree(root / "train")
    _, test_files, test_labels = list_class_tree(root / "val", classes=classes)
    return from_files(
        opts,
        root=root,
        classes=classes,
        train=(files, labels),
        test=(test_files, test_labels),
        info={
            "sources": [str(root / "train"), str(root / "val")],
            "splits": {"test": "official ILSVRC2012 validation images"},
        },
    )
