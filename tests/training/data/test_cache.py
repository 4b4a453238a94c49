from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nago.training.data.cache import cached_decode, decode_image, files_key, show_progress
from nago.errors import DataError


def _halves(path: Path, w: int, h: int) -> None:
    """Left/top half red, right/bottom half blue (split along the long side), plus green bands at the far ends."""
    arr = np.zeros((h, w, 3), np.uint8)
    if w >= h:
        arr[:, : w // 2] = (255, 0, 0)
        arr[:, w // 2 :] = (0, 0, 255)
        arr[:, : w // 8] = arr[:, w - w // 8 :] = (0, 255, 0)
    else:
        arr[: h // 2] = (255, 0, 0)
        arr[h // 2 :] = (0, 0, 255)
        arr[: h // 8] = arr[h - h // 8 :] = (0, 255, 0)
    Image.fromarray(arr).save(path)


@pytest.mark.parametrize("w,h", [(80, 40), (40, 80)])
def test_decode_resizes_shorter_side_and_centre_crops(tmp_path: Path, w: int, h: int) -> None:
    path = tmp_path / "x.png"
    _halves(path, w, h)
    out = decode_image(path, 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    # the green bands lie outside the centre square and must be cropped away
    assert out[..., 1].max() < 10
    first, last = (out[:, 0], out[:, -1]) if w > h else (out[0], out[-1])
    assert first[:, 0].min() > 200 and last[:, 2].min() > 200


def test_decode_grey_and_palette_images_become_rgb(tmp_path: Path) -> None:
    Image.new("L", (12, 12), 77).save(tmp_path / "g.jpg")
    Image.new("P", (12, 12), 3).save(tmp_path / "p.gif")
    for name in ("g.jpg", "p.gif"):
        assert decode_image(tmp_path / name, 6).shape == (6, 6, 3)


def test_corrupt_and_truncated_images_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="bad.jpg"):
        decode_image(bad, 8)
    good = tmp_path / "cut.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    good.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DataError, match="cut.jpg"):
        decode_image(good, 8)


def test_cache_is_atomic_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = []
    for i in range(5):
        files.append(tmp_path / f"{i}.png")
        Image.new("RGB", (9, 7), (i * 40, 0, 0)).save(files[-1])
    target = tmp_path / "cache" / "x.npy"
    first = cached_decode(files, path=target, size=4, desc="t", progress=False)
    assert isinstance(first, np.memmap) and not first.flags.writeable
    assert first.shape == (5, 4, 4, 3) and first[3, 0, 0, 0] == 120
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.npy"]  # no temp file left

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(Image, "open", refuse)
    again = cached_decode(files, path=target, size=4, desc="t", progress=False)
    assert np.array_equal(first, again)


def test_failed_decode_leaves_no_cache(tmp_path: Path) -> None:
    files = [tmp_path / "ok.png", tmp_path / "broken.png"]
    Image.new("RGB", (5, 5)).save(files[0])
    files[1].write_bytes(b"\x89PNG broken")
    target = tmp_path / "c" / "x.npy"
    with pytest.raises(DataError, match="broken.png"):
        cached_decode(files, path=target, size=4, desc="t", progress=False)
    assert list(target.parent.iterdir()) == []


def test_files_key_depends_on_order_and_parts() -> None:
    assert files_key(["a", "b"], 8) == files_key(["a", "b"], 8)
    assert files_key(["a", "b"], 8) != files_key(["b", "a"], 8)
    assert files_key(["a", "b"], 8) != files_key(["a", "b"], 16)


def test_progress_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAGO_NO_PROGRESS", raising=False)
    assert show_progress(None, 5000) and not show_progress(None, 10) and show_progress(True, 10)
    monkeypatch.setenv("NAGO_NO_PROGRESS", "1")
    assert not show_progress(True, 5000)


def test_worker_count_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (5, 5)).save(tmp_path / "a.png")
    monkeypatch.setenv("NAGO_DATA_WORKERS", "1")
    out = cached_decode([tmp_path / "a.png"], path=tmp_path / "c" / "a.npy", size=3, desc="t", progress=True)
    assert out.shape == (1, 3, 3, 3)
    monkeypatch.setenv("NAGO_DATA_WORKERS", "many")
    with pytest.raises(DataError, match="NAGO_DATA_WORKERS='many'"):
        cached_decode([tmp_path / "a.png"], path=tmp_path / "c" / "b.npy", size=3, desc="t")
