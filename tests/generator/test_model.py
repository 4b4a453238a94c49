from __future__ import annotations

import numpy as np
import pytest
import torch

from _paths import SPACES
from nago.errors import ConfigError
from nago.generator.hnag import generate
from nago.generator.model import build_model, choose_mult, count_params
from nago.config.space import SearchSpace


def test_paper_example_widths_and_budget(paper_config):
    net = build_model(generate(paper_config, 0), in_channels=3, image_size=32, num_classes=10, param_limit=4e6)
    w = net.info["widths"]
    assert abs(w[1] - 2 * w[0]) <= 1 and abs(w[2] - 4 * w[0]) <= 2  # 1:2:4 up to whole channels
    assert net.info["sizes"] == [32, 16, 8]
    assert abs(net.info["params"] / 4e6 - 1) < 0.15
    acts = {}
    for i, cell in enumerate(net.body.bodies):
        cell.register_forward_hook(lambda m, a, out, i=i: acts.__setitem__(i, out.shape))
    net(torch.randn(2, 3, 32, 32))
    assert [acts[i][-1] for i in range(8)] == [32, 32, 32, 16, 16, 16, 8, 8]
    assert [acts[i][1] for i in range(8)] == [w[0]] * 3 + [w[1]] * 3 + [w[2]] * 2


@pytest.mark.parametrize("name, n", [p for name in ("hnag", "hnag-full", "rnag")
                                     for p in ((name, 40), pytest.param(name, 200, marks=pytest.mark.slow))])
def test_random_configs_build_and_train_step(name, n):
    """Acceptance: 200 random configs per space build and run forward + backward (the original code
    crashes on ~7%): 40 in the fast suite, all 200 (~1 min per space on 2 cores) under ``-m slow``.
    Widths and images (16 px: three stages still downsample 16 -> 8 -> 4) are small so the test stays
    fast; the budget check is separate."""
    sp = SearchSpace.from_toml(SPACES / f"{name}.toml")
    x = torch.randn(2, 3, 16, 16)
    for i, cfg in enumerate(sp.sample(np.random.default_rng(0), n)):
        net = build_model(generate(cfg, i), image_size=16, width_mult=2, head_width=8)
        out = net(x)
        assert out.shape == (2, 10) and torch.isfinite(out).all()
        out.sum().backward()


@pytest.mark.parametrize("name", ["hnag", "hnag-full", "rnag"])
def test_param_budget_spread(name):
    """The exact parameter count of random configs lands within ±5% of the budget (the issue asks ±15%)."""
    sp = SearchSpace.from_toml(SPACES / f"{name}.toml")
    ratios = []
    for i, cfg in enumerate(sp.sample(np.random.default_rng(1), 200)):
        spec = generate(cfg, i)
        m = choose_mult(spec, param_limit=4e6, in_channels=3, image_size=32, num_classes=10)
        ratios.append(count_params(spec, mult=m, in_channels=3, image_size=32, num_classes=10) / 4e6)
    assert 0.95 <= min(ratios) and max(ratios) <= 1.05, (min(ratios), max(ratios))  # measured: 0.966..1.038


def test_count_params_is_exact():
    sp = SearchSpace.from_toml(SPACES / "hnag-full.toml")
    for i, cfg in enumerate(sp.sample(np.random.default_rng(2), 25)):
        spec = generate(cfg, i)
        for size, ch, k in ((8, 1, 10), (32, 3, 100), (64, 3, 67)):
            net = build_model(spec, in_channels=ch, image_size=size, num_classes=k, width_mult=3, head_width=16)
            assert net.info["params"] == count_params(spec, mult=3, in_channels=ch, image_size=size, num_classes=k, head_width=16)


@pytest.mark.parametrize("size, channels, classes", [(8, 1, 10), (28, 1, 10), (32, 3, 100), (64, 3, 67), (224, 3, 1000)])
def test_input_sizes_channels_classes(paper_config, size, channels, classes):
    net = build_model(generate(paper_config, 0), in_channels=channels, image_size=size, num_classes=classes,
                      width_mult=4, head_width=32)
    assert net(torch.randn(2, channels, size, size)).shape == (2, classes)
    if size >= 40:
        assert net.info["sizes"][0] == size // 4


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(param_limit=-1), "param_limit"),
        (dict(param_limit=None), "param_limit"),
        (dict(num_classes=0), "num_classes"),
        (dict(in_channels=2.5), "in_channels"),
        (dict(width_mult=0), "width_mult"),
    ],
)
def test_bad_build_arguments(paper_config, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_model(generate(paper_config, 0), **kwargs)
