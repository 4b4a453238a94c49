"""The NAS-Bench-201 cell network (params and FLOPs of every cell) and the derivation of nago's NB201 table.

The network is NB201's macro skeleton ("TinyNetwork", Dong & Yang, ICLR 2020, C = 16, N = 5): a 3x3
conv stem with BN, three stages of ``N`` cells (widths C, 2C, 4C) joined by two residual blocks with
stride 2, BN + ReLU, global average pooling and a linear classifier. A cell has four nodes; node ``i``
sums one op per earlier node ``j``; ops are ``none`` (zero), ``skip_connect``, ``nor_conv_1x1`` and
``nor_conv_3x3`` (ReLU -> conv -> BN) and ``avg_pool_3x3``. An architecture is NB201's string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

Parameters and MACs are additive over edges (each edge's cost depends only on its op and stage), so
:func:`arch_costs` computes them from per-op costs measured once on built networks. With 10 classes
and 32x32 inputs they span 0.0733-1.5315 M params and 7.8-220.1 M MACs, NB201's published ranges.

``python -m nago.benchmarks.nb201 SRC.csv DST.csv.gz`` writes the compact table shipped in ``spaces/data``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import itertools
import sys
from pathlib import Path

import torch
from torch import nn

from nago.errors import ConfigError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from) in arch_str order


def parse_arch(arch: str) -> list[str]:
    """The six edge ops of an NB201 string, in ``EDGES`` order; :class:`ConfigError` if malformed."""
    ops = []
    try:
        for node, part in enumerate(arch.strip("|").split("|+|"), start=1):
            items = part.split("|")
            if len(items) != node:
                raise ValueError
            for j, item in enumerate(items):
                op, src = item.split("~")
                if int(src) != j or op not in OPS:
                    raise ValueError
                ops.append(op)
    except ValueError:
        raise ConfigError(f"NB201 architecture {arch!r}: expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' "
                          f"with ops from {', '.join(OPS)}") from None
    if len(ops) != 6:
        raise ConfigError(f"NB201 architecture {arch!r}: expected 6 edges, got {len(ops)}")
    return ops


def arch_string(ops: list[str]) -> str:
    """Inverse of :func:`parse_arch`."""
    it = iter(ops)
    return "+".join("|" + "|".join(f"{next(it)}~{j}" for j in range(i)) + "|" for i in (1, 2, 3))


PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))  # input -> output paths of a cell, as edge indices into EDGES
_PATH_OPS = ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # what is left of a path once skips are contracted
PATH_SEQUENCES = tuple(s for n in range(4) for s in itertools.product(_PATH_OPS, repeat=n))  # 1 + 3 + 9 + 27 = 40
_PATH_INDEX = {seq: i for i, seq in enumerate(PATH_SEQUENCES)}


def path_features(ops: list[str]) -> list[int]:
    """The cell's input -> output paths as counts over :data:`PATH_SEQUENCES` (length 40).

    A path through a ``none`` edge carries nothing and is dropped; ``skip_connect`` edges are contracted
    (an identity), so the direct skip ``0 -> 3`` and the skip chain ``0 -> 1 -> 3`` are the same feature,
    the empty sequence. This is BANANAS' path encoding (White et al., 2021) with skips contracted; a GP
    on it relates cells that compute the same paths through different edges, which a kernel on the six
    edge choices cannot.

    Args:
        ops: the six edge ops in :data:`EDGES` order.
    """
    if len(ops) != len(EDGES) or any(o not in OPS for o in ops):
        raise ConfigError(f"NB201 path features: got ops {ops!r}; allowed: six of {', '.join(OPS)}")
    counts = [0] * len(PATH_SEQUENCES)
    for path in PATHS:
        seq = [ops[e] for e in path]
        if "none" not in seq:
            counts[_PATH_INDEX[tuple(o for o in seq if o != "skip_connect")]] += 1
    return counts


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
        for i in (1, 2, 3):
            nodes.append(sum(self.edges[e](nodes[j]) for e, (to, j) in enumerate(EDGES) if to == i))
        return nodes[3]


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
                 "cifar100_test_200ep", "imagenet16_test_200ep", "cifar10valid_train_time_200ep_s")


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
        sys.exit("usage: python -m nago.benchmarks.nb201 nb201_merged.csv spaces/data/nb201.csv.gz")
    print(f"wrote {derive_table(sys.argv[1], sys.argv[2])} rows to {sys.argv[2]}")
