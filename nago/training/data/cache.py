"""Decode-once image cache: image files -> one uint8 ``.npy`` per split, reopened as a read-only memmap.

A cache file is named ``<dataset>-<split>-<size>px-<hash>.npy`` where the hash covers the decoding
recipe, the image size and the list of file paths relative to the dataset root (in order), so any
change to the split (seed, ``val_fraction``, ``max_train``) or the resize rule makes a new file and
an unchanged split never decodes again. File contents are not hashed: replace images in place and
you must delete the cache. Files are written to a temporary name and renamed, so a crash never
leaves a half-written cache behind. Decoding runs in a thread pool (Pillow releases the GIL while
decoding and resizing); ``NAGO_DATA_WORKERS`` sets the pool size.

Resize rule (``RECIPE``): convert to RGB, scale the shorter side to ``size`` (bilinear, antialiased),
centre-crop to ``size x size``. JPEGs use Pillow's draft mode to decode at a reduced scale that
is still at least ``size`` on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from nago.errors import DataError

RECIPE = "rgb;shorter-side-bilinear;centre-crop;v1"
_CHUNK = 64
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def decode_image(path: str | Path, size: int) -> np.ndarray:
    """Decode one image file into a uint8 array ``[size, size, 3]`` (see the module's resize rule).

    Raises:
        DataError: the file is missing, truncated or not an image; the message names the file.
    """
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))
            rgb = im.convert("RGB")
    except _DECODE_ERRORS as e:
        raise DataError(f"cannot decode image {path}: {e}") from e
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    box = (left, top, left + side, top + side)
    out = rgb.resize((size, size), Image.Resampling.BILINEAR, box=box)
    return np.asarray(out, dtype=np.uint8)


def show_progress(progress: bool | None, total: int) -> bool:
    """Whether to draw a progress bar: never if ``NAGO_NO_PROGRESS`` is set (not ``0``), else
    ``progress`` when given, else only for big jobs (1,000 items or more)."""
    if os.environ.get("NAGO_NO_PROGRESS", "") not in ("", "0"):
        return False
    return total >= 1000 if progress is None else bool(progress)


def _workers() -> int:
    value = os.environ.get("NAGO_DATA_WORKERS", "")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise DataError(f"NAGO_DATA_WORKERS={value!r} is not an integer; allowed: an integer >= 1") from None
    return min(32, os.cpu_count() or 1)


def files_key(rel_paths: Sequence[str], *parts: object) -> str:
    """Short stable hash of the decoding recipe, ``parts`` and a list of relative paths."""
    h = hashlib.sha256(RECIPE.encode())
    for p in parts:
        h.update(f"\0{p}".encode())
    for p in rel_paths:
        h.update(f"\n{p}".encode())
    return h.hexdigest()[:16]


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents); raise :class:`DataError` if that is impossible."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create cache_dir {path}: {e}; pass cache_dir=<writable dir>") from e
    return path


def _open(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached array at ``path`` as a read-only memmap, or ``None`` if absent or of another shape."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return arr if arr.shape == shape and arr.dtype == np.uint8 else None


def cached_decode(
    files: Sequence[Path],
    *,
    path: Path,
    size: int,
    desc: str,
    progress: bool | None = None,
) -> np.ndarray:
    """Images of ``files`` as a read-only uint8 memmap ``[N, size, size, 3]`` cached at ``path``.

    Opens ``path`` if it holds an array of the right shape; otherwise decodes every file (in
    parallel, with a tqdm bar named ``desc`` for big jobs) into ``path`` atomically and opens that.

    Raises:
        DataError: an image cannot be decoded (names the file) or the cache cannot be written.
    """
    shape = (len(files), size, size, 3)
    if not files:
        return np.zeros(shape, dtype=np.uint8)
    cached = _open(path, shape)
    if cached is not None:
        return cached
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _decode_into(out, files, size, desc, progress)
        out.flush()
        del out
        os.replace(tmp, path)
    except OSError as e:
        raise DataError(f"cannot write image cache {path}: {e}; pass cache_dir=<writable dir>") from e
    finally:
        tmp.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def _decode_into(out: np.ndarray, files: Sequence[Path], size: int, desc: str, progress: bool | None) -> None:
    from tqdm.auto import tqdm

    def work(start: int) -> int:
        stop = min(start + _CHUNK, len(files))
        for i in range(start, stop):
            out[i] = decode_image(files[i], size)
        return stop - start

    bar = tqdm(total=len(files), desc=desc, unit="img", disable=not show_progress(progress, len(files)))
    with bar, ThreadPoolExecutor(max_workers=_workers()) as pool:
        futures = [pool.submit(work, s) for s in range(0, len(files), _CHUNK)]
        try:
            for f in futures:
                bar.update(f.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def write_json_once(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically unless the file already exists; return ``path``."""
    if path.is_file():
        return path
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)
    except OSError as e:
        raise DataError(f"cannot write split file {path}: {e}; pass cache_dir=<writable dir>") from e
    finally:
        tmp.unlink(missing_ok=True)
    return path
