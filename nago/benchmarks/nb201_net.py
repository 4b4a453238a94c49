"""The NAS-Bench-201 cell network (params and FLOPs of every cell) and the derivation of nago's NB201 table.

The network is NB201's macro skeleton ("TinyNetwork", Dong & Yang, ICLR 2020, C = 16, N = 5): a 3x3
conv stem with BN, three stages of ``N`` cells (widths C, 2C, 4C) joined by two residual blocks with
stride 2, BN + ReLU, global average pooling and a linear classifier. The cell (its edges, ops and
architecture strings) is described in :mod:`nago.benchmarks.nb201`, the torch-free half; ops are
``none`` (zero), ``skip_connect``, ``nor_conv_1x1`` and ``nor_conv_3x3`` (ReLU -> conv -> BN) and
``avg_pool_3x3``.

Parameters and MACs are additive over edges (each edge's cost depends only on its op and stage), so
:func:`arch_costs` computes them from per-op costs measured once on built networks. With 10 classes
and 32x32 inputs they span 0.0733-1.5315 M params and 7.8-220.1 M MACs, NB201's published ranges.

``python -m nago.benchmarks.nb201_net SRC.csv DST.csv.gz`` writes the compact table shipped in ``spaces/data``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import sys
from pathlib import Path

import torch
from torch import nn

from nago.benchmarks.nb201 import EDGES, NUM_NODES, OPS, arch_string, parse_arch


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _relu_conv_bn(c: int, k: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c))


def _op(name: str, c: int) -> nn.Module:
    if name == "none":
        return _Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return _relu_conv_bn(c, 1 if name == "nor_conv_1x1" else 3)


class Cell(nn.Module):
    """One NB201 cell of width ``c``: input ``[B, c, H, W]`` -> output of the same shape."""

    def __init__(self, ops: list[str], c: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_op(op, c) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in range(1, NUM_NODES):
            nodes.append(sum(self.edges[e](nodes[src]) for e, (src, dst) in enumerate(EDGES) if dst == i))
        return nodes[-1]


class ResBlock(nn.Module):
    """NB201's reduction block: ReLU-conv3x3(stride 2)-BN, ReLU-conv3x3-BN, plus avgpool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out))
        self.b = _relu_conv_bn(c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.b(self.a(x))


class NB201Network(nn.Module):
    """NB201's macro skeleton around one cell. Input ``[B, 3, H, W]`` -> logits ``[B, num_classes]``.

    Args:
        arch: the NB201 architecture string.
        C: width of the first stage (16 in NB201).
        N: cells per stage (5 in NB201).
        num_classes: 10 for CIFAR-10, 100 for CIFAR-100, 120 for ImageNet16-120.
    """

    def __init__(self, arch: str, *, C: int = 16, N: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        ops = parse_arch(arch)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        for s, c in enumerate((C, 2 * C, 4 * C)):
            if s:
                layers.append(ResBlock(c // 2, c))
            layers.extend(Cell(ops, c) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4 * C, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))


def measure(arch: str, *, C: int = 16, N: int = 5, num_classes: int = 10, image_size: int = 32) -> tuple[int, int]:
    """``(params, MACs)`` of the built network (trainable parameters; conv + linear MACs per image)."""
    from nago.generator.profile import count_flops

    net = NB201Network(arch, C=C, N=N, num_classes=num_classes)
    return sum(p.numel() for p in net.parameters()), count_flops(net, (3, image_size, image_size))


@functools.lru_cache(maxsize=None)
def _op_costs(C: int, N: int, num_classes: int, image_size: int) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    base = measure(arch_string(["none"] * 6), C=C, N=N, num_classes=num_classes, image_size=image_size)
    per_op = {}
    for op in OPS:
        p, f = measure(arch_string([op] * 6), C=C, N=N, num_classes=num_classes, image_size=image_size)
        per_op[op] = ((p - base[0]) // 6, (f - base[1]) // 6)
    return base, per_op


def arch_costs(arch: str, *, C: int = 16, N: int = 5, num_classes: int = 10, image_size: int = 32) -> tuple[int, int]:
    """``(params, MACs)`` of an architecture without building it (equal to :func:`measure`)."""
    (p, f), per_op = _op_costs(C, N, num_classes, image_size)
    for op in parse_arch(arch):
        p, f = p + per_op[op][0], f + per_op[op][1]
    return p, f


TABLE_COLUMNS = ("arch_str", "unique_str", "cifar10valid_valid_200ep", "cifar10valid_test_200ep", "cifar10_test_200ep",
                 "cifar100_test_200ep", "imagenet16_test_200ep", "cifar10valid_train_time_200ep_s",
                 "cifar10valid_valid_12ep", "cifar100_valid_12ep", "imagenet16_valid_12ep")


def derive_table(src: str | Path, dst: str | Path) -> int:
    """Write nago's compact NB201 table from ``nb201_merged.csv``: the columns of :data:`TABLE_COLUMNS`
    (numbers to 4 decimals) plus ``params_m`` and ``flops_m`` (CIFAR-10 network, millions). Returns rows."""
    with open(src, newline="") as f, gzip.open(dst, "wt", newline="", compresslevel=9) as g:
        reader, writer = csv.DictReader(f), csv.writer(g, lineterminator="\n")
        writer.writerow([*TABLE_COLUMNS, "params_m", "flops_m"])
        n = 0
        for row in reader:
            params, macs = arch_costs(row["arch_str"])
            writer.writerow([row[c] if c.endswith("_str") else f"{float(row[c]):.4f}" for c in TABLE_COLUMNS]
                            + [f"{params / 1e6:.6f}", f"{macs / 1e6:.4f}"])
            n += 1
    return n


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m nago.benchmarks.nb201_net nb201_merged.csv spaces/data/nb201.csv.gz")
    print(f"wrote {derive_table(sys.argv[1], sys.argv[2])} rows to {sys.argv[2]}")
