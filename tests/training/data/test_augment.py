"""DeviceAugment: conversion, normalisation and each augmentation's geometry, on the CPU."""

from __future__ import annotations

import pytest
import torch

from nago.training.data.augment import AugmentConfig, DeviceAugment
from nago.errors import ConfigError, DataError

MEAN = (0.5, 0.4, 0.3)
STD = (0.2, 0.25, 0.3)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unnormalise(out: torch.Tensor) -> torch.Tensor:
    """float [B, C, H, W] normalised -> pixel values [B, H, W, C] rounded to integers."""
    mean = torch.tensor(MEAN).view(1, -1, 1, 1)
    std = torch.tensor(STD).view(1, -1, 1, 1)
    return ((out * std + mean) * 255).round().permute(0, 2, 3, 1)


def _coded(b: int, h: int, w: int) -> torch.Tensor:
    """uint8 [B, H, W, 3]: channel 0 = row + 1, channel 1 = col + 1, channel 2 = 100 (never 0)."""
    rows = torch.arange(h).view(1, h, 1).expand(b, h, w) + 1
    cols = torch.arange(w).view(1, 1, w).expand(b, h, w) + 1
    return torch.stack([rows, cols, torch.full_like(rows, 100)], -1).to(torch.uint8)


def _aug(**cfg) -> DeviceAugment:
    return DeviceAugment(config=AugmentConfig(**cfg), mean=MEAN, std=STD)


def test_eval_converts_and_normalises():
    x = torch.randint(0, 256, (2, 5, 7, 3), dtype=torch.uint8)
    out = _aug(crop_padding=2, hflip=True, cutout=3)(x, train=False)
    assert out.shape == (2, 3, 5, 7) and out.dtype == torch.float32 and out.is_contiguous()
    expected = (x.permute(0, 3, 1, 2).float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(
        STD
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_train_with_everything_off_only_normalises():
    x = torch.randint(0, 256, (3, 4, 4, 3), dtype=torch.uint8)
    aug = _aug()
    torch.testing.assert_close(aug(x, train=True, generator=_gen()), aug(x, train=False))


def test_random_crop_shifts_content_by_at_most_padding():
    pad, b, h, w = 2, 200, 8, 9
    out = _unnormalise(_aug(crop_padding=pad)(_coded(b, h, w), train=True, generator=_gen(1))).long()
    shifts = set()
    for img in out:
        inside = img[..., 2] == 100
        assert (img[~inside] == 0).all()  # padding is black (pixel value 0) before normalisation
        rr, cc = torch.nonzero(inside, as_tuple=True)
        dy = (img[rr, cc, 0] - 1 - rr).unique()
        dx = (img[rr, cc, 1] - 1 - cc).unique()
        assert len(dy) == 1 and len(dx) == 1  # one rigid shift per sample
        dy, dx = int(dy), int(dx)
        assert abs(dy) <= pad and abs(dx) <= pad
        # exactly the pixels whose source lies inside the image are kept
        src_r, src_c = torch.arange(h) + dy, torch.arange(w) + dx
        valid = ((src_r >= 0) & (src_r < h))[:, None] & ((src_c >= 0) & (src_c < w))[None, :]
        assert torch.equal(valid, inside)
        shifts.add((dy, dx))
    assert len(shifts) == (2 * pad + 1) ** 2  # every offset occurs in 200 draws


def test_hflip_flips_about_half():
    x = _coded(64, 4, 6)
    out = _unnormalise(_aug(hflip=True)(x, train=True, generator=_gen(2))).to(torch.uint8)
    same = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    mirrored = torch.tensor([torch.equal(o, i.flip(1)) for o, i in zip(out, x)])
    assert (same ^ mirrored).all()
    assert 10 < int(mirrored.sum()) < 54


def test_crop_with_flip_is_a_mirrored_shift():
    out = _unnormalise(_aug(crop_padding=1, hflip=True)(_coded(64, 6, 6), train=True, generator=_gen(3))).long()
    directions = set()
    for img in out:
        row = img[3, :, 1]
        row = row[row > 0]
        steps = (row[1:] - row[:-1]).unique()
        assert len(steps) == 1 and abs(int(steps)) == 1
        directions.add(int(steps))
    assert directions == {-1, 1}


def test_cutout_blacks_out_a_clipped_square():
    side, b, h, w = 6, 128, 16, 16
    x = torch.full((b, h, w, 3), 200, dtype=torch.uint8)
    out = _aug(cutout=side)(x, train=True, generator=_gen(4))
    fill = (-torch.tensor(MEAN) / torch.tensor(STD)).view(1, 3, 1, 1)
    cut = (out - fill).abs().amax(1) < 1e-5  # [B, H, W]: normalised value of pixel 0 in every channel
    full = 0
    for mask in cut:
        rows = torch.nonzero(mask.any(1)).flatten()
        cols = torch.nonzero(mask.any(0)).flatten()
        assert len(rows) > 0  # the centre is inside the image, so something is cut
        assert int(mask.sum()) == len(rows) * len(cols)  # a rectangle ...
        assert len(rows) == rows[-1] - rows[0] + 1 and len(cols) == cols[-1] - cols[0] + 1
        for idx, size in ((rows, h), (cols, w)):  # ... of side `side` unless clipped by the border
            assert len(idx) <= side
            assert len(idx) == side or idx[0] == 0 or idx[-1] == size - 1
        full += len(rows) == side and len(cols) == side
    assert full > 0
    untouched = _unnormalise(out)[~cut]
    assert (untouched == 200).all()


def test_random_resized_crop_keeps_size_order_and_scale():
    b, h, w = 64, 20, 20
    aug = _aug(random_resized_crop=True, hflip=True)
    const = aug(torch.full((4, h, w, 3), 77, dtype=torch.uint8), train=True, generator=_gen(5))
    torch.testing.assert_close(const, aug(torch.full((4, h, w, 3), 77, dtype=torch.uint8), train=False))
    out = _unnormalise(aug(_coded(b, h, w), train=True, generator=_gen(6)))
    assert out.shape == (b, h, w, 3)
    flipped = 0
    for img in out:
        rows, cols = img[:, w // 2, 0], img[h // 2, :, 1]
        assert ((rows[1:] - rows[:-1]) >= -0.5).all()  # vertical order kept
        dcol = cols[1:] - cols[:-1]
        assert (dcol >= -0.5).all() or (dcol <= 0.5).all()  # horizontal order kept or mirrored
        flipped += bool((dcol < 0).any())
        for span in (rows.max() - rows.min(), (cols.max() - cols.min())):
            # box side is sqrt(area * ratio) in [sqrt(0.35 * 3/4), 1] of the image
            assert 0.45 * (h - 1) <= span <= h - 1 + 0.5
    assert 10 < flipped < 54


def test_same_generator_seed_same_batch():
    x = torch.randint(0, 256, (16, 12, 12, 3), dtype=torch.uint8)
    for cfg in ({"crop_padding": 2, "hflip": True, "cutout": 4}, {"random_resized_crop": True, "cutout": 5}):
        aug = _aug(**cfg)
        a, b = aug(x, train=True, generator=_gen(7)), aug(x, train=True, generator=_gen(7))
        assert torch.equal(a, b)
        assert not torch.equal(a, aug(x, train=True, generator=_gen(8)))


def test_channels_last_output():
    aug = DeviceAugment(config=AugmentConfig(hflip=True), mean=MEAN, std=STD, memory_format=torch.channels_last)
    out = aug(torch.zeros(2, 5, 5, 3, dtype=torch.uint8), train=True, generator=_gen())
    assert out.shape == (2, 3, 5, 5) and out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(
    "x",
    [torch.zeros(2, 4, 4, 3), torch.zeros(2, 4, 4, 1, dtype=torch.uint8), torch.zeros(4, 4, 3, dtype=torch.uint8)],
)
def test_bad_batches_raise(x):
    with pytest.raises(DataError, match=r"uint8 batch \[B, H, W, 3\]"):
        _aug()(x, train=False)


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"crop_padding": -1}, "crop_padding"),
        ({"cutout": 2.5}, "cutout"),
        ({"hflip": 1}, "hflip"),
        ({"crop_padding": 4, "random_resized_crop": True}, "alternatives"),
    ],
)
def test_augment_config_rejects_bad_values(cfg, match):
    with pytest.raises(ConfigError, match=match):
        AugmentConfig(**cfg)


def test_augment_config_from_dict():
    assert AugmentConfig.from_dict({"crop_padding": 4, "hflip": True, "cutout": 16}) == AugmentConfig(4, False, True, 16)
    with pytest.raises(ConfigError, match=r"unknown key 'flip'.*allowed: crop_padding"):
        AugmentConfig.from_dict({"flip": True})
    with pytest.raises(ConfigError, match="augment"):
        AugmentConfig.from_dict([1, 2])


def test_bad_normalisation_constants():
    with pytest.raises(ConfigError, match="same length"):
        DeviceAugment(config=AugmentConfig(), mean=(0.5, 0.5), std=(0.2,))
    with pytest.raises(ConfigError, match="> 0"):
        DeviceAugment(config=AugmentConfig(), mean=(0.5,), std=(0.0,))
