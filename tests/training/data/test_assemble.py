from __future__ import annotations

import numpy as np

from nago.training.data.assemble import channel_stats, resize_square


def test_channel_stats_match_numpy() -> None:
    x = np.random.default_rng(0).integers(0, 256, (40, 5, 6, 3)).astype(np.uint8)
    mean, std = channel_stats(x)
    ref = x.reshape(-1, 3) / 255.0
    assert np.allclose(mean, ref.mean(0)) and np.allclose(std, ref.std(0))
    assert channel_stats(np.full((2, 4, 4, 1), 9, np.uint8))[1] == (1.0,)  # constant image: std 1, no division by 0


def test_resize_square_keeps_channels_and_dtype() -> None:
    grey = np.full((3, 8, 8, 1), 200, np.uint8)
    out = resize_square(grey, 16)
    assert out.shape == (3, 16, 16, 1) and out.dtype == np.uint8 and np.all(out == 200)
    rgb = np.zeros((2, 4, 4, 3), np.uint8)
    rgb[..., 2] = 90
    assert np.all(resize_square(rgb, 6)[..., 2] == 90)
    assert resize_square(rgb, 4) is rgb
