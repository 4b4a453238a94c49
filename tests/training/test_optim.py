"""Parameter groups (no decay on BN / biases) and the warm-up + cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nago.errors import ConfigError
from nago.training.optim import WarmupCosine, build_sgd, param_groups


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2, bias=True))


def test_weight_decay_skips_bn_and_biases():
    net = _net()
    groups = param_groups(net, weight_decay=3e-4)
    decayed = {id(p) for p in groups[0]["params"]}
    plain = {id(p) for p in groups[1]["params"]}
    assert groups[0]["weight_decay"] == 3e-4 and groups[1]["weight_decay"] == 0.0
    assert decayed == {id(net[0].weight), id(net[4].weight)}
    assert plain == {id(net[0].bias), id(net[1].weight), id(net[1].bias), id(net[4].bias)}


def test_frozen_parameters_are_left_out():
    net = _net()
    net[0].weight.requires_grad_(False)
    ids = {id(p) for g in param_groups(net, weight_decay=0.1) for p in g["params"]}
    assert id(net[0].weight) not in ids and len(ids) == 5


def test_build_sgd():
    opt = build_sgd(_net(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    assert isinstance(opt, torch.optim.SGD)
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-4, 0.0]
    assert all(g["nesterov"] and g["momentum"] == 0.9 for g in opt.param_groups)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_sgd(nn.ReLU(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.0)


def test_warmup_then_cosine_to_zero():
    sched = WarmupCosine(base_lr=0.1, total_steps=100, warmup_steps=10)
    lrs = [sched(s) for s in range(100)]
    assert lrs[:10] == pytest.approx([0.01 * (s + 1) for s in range(10)])  # linear warm-up to the peak
    assert lrs[10] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(lrs[10:], lrs[11:]))  # strictly decreasing afterwards
    assert lrs[55] == pytest.approx(0.05, rel=0.05)  # half-way down the cosine
    assert 0 < lrs[-1] < 1e-3
    assert sched(100) == pytest.approx(0.0)


def test_no_warmup_and_clipped_warmup():
    sched = WarmupCosine(base_lr=1.0, total_steps=4)
    assert [sched(s) for s in range(4)] == pytest.approx([(1 + math.cos(math.pi * s / 4)) / 2 for s in range(4)])
    long_warmup = WarmupCosine(base_lr=1.0, total_steps=5, warmup_steps=50)
    assert long_warmup.warmup_steps == 5 and long_warmup(4) == pytest.approx(1.0)


def test_apply_sets_every_group():
    opt = build_sgd(_net(), lr=0.1, momentum=0.9, nesterov=False, weight_decay=1e-4)
    lr = WarmupCosine(base_lr=0.1, total_steps=10, warmup_steps=5).apply(opt, 0)
    assert lr == pytest.approx(0.02) and all(g["lr"] == lr for g in opt.param_groups)


def test_bad_schedule():
    with pytest.raises(ConfigError, match="total_steps"):
        WarmupCosine(base_lr=0.1, total_steps=0)
    with pytest.raises(ConfigError, match="warmup_steps"):
        WarmupCosine(base_lr=0.1, total_steps=3, warmup_steps=-1)
