from __future__ import annotations

import torch
from torch import nn

from nago.generator.hnag import generate
from nago.generator.model import build_model
from nago.generator.profile import count_flops, profile, training_memory_bytes


def test_flops_of_known_layers():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    assert count_flops(net, (3, 4, 4)) == 8 * 16 * 3 * 9 + 5 * 128
    dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
    assert count_flops(dw, (4, 5, 5)) == 4 * 25 * 9


def test_memory_counts_saved_activations_not_parameters():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU())
    # conv saves its input (3x8x8 floats); relu saves its output (8x8x8 floats); weights excluded
    assert training_memory_bytes(net, (3, 8, 8)) == (3 * 64 + 8 * 64) * 4


def test_profile_is_deterministic_and_leaves_rng_and_bn_alone(paper_config):
    net = build_model(generate(paper_config, 0), width_mult=4, head_width=16)
    bn = next(m for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    before = bn.running_mean.clone()
    torch.manual_seed(0)
    a = profile(net, (3, 32, 32), latency=True)
    r = torch.rand(1)
    torch.manual_seed(0)
    b = profile(net, (3, 32, 32))
    assert torch.equal(r, torch.rand(1))
    assert (a.params, a.flops, a.memory_mb) == (b.params, b.flops, b.memory_mb)
    assert torch.equal(bn.running_mean, before)
    assert a.latency_ms > 0 and a.memory_mb > 0 and net.training
