"""ArchSpec -> ``torch.nn.Module``: stem, one recursive graph block used at all three levels, head.

Layout (``research/nago.md`` §3.4, with the original code's bugs left out):

* **Stem.** Images smaller than 40 px: ``Conv3x3 -> BN -> ReLU -> Conv3x3 -> BN`` at full
  resolution. Larger images: two stride-2 depthwise-separable 3x3 convs (÷4 resolution).
* **Graph block** (the same module at every level). Node ``i`` merges its inputs (the block's
  input for input nodes), then runs its body: a bottom-level op (``ReLU -> conv -> BN``) or a
  nested graph block. The block's output is the mean of its output nodes, selected **by node id**.
  *Merge* ``"sum"``: ``Σ_e g_e(x_e)`` with ``g_e(x) = sigmoid(w_e)·x`` (``w_e`` learnt, starting
  at 1) where the edge width equals the merged width and a 1x1 conv (with bias) where it does not;
  the merged width is the width of the highest-id input. *Merge* ``"cat"``: channel concatenation
  (the next conv maps it back). A single input passes through unchanged.
* **Resolutions.** Top-level node (cell) of stage ``s`` runs at ``R / 2**s`` (``R`` = post-stem
  size, at least 1 px): inputs with a larger resolution are average-pooled to it; every conv has
  stride 1. The top-level outputs are pooled to the smallest output resolution, mapped by 1x1 convs
  to the width of the highest-id output where widths differ, and averaged.
* **Widths.** Stage ``s`` has ``round(channel_ratios[s] * mult)`` channels (at least 1); every
  module and op of a cell has the cell's width.
* **Head.** ``ReLU -> Conv1x1(C -> head_width) -> BN -> ReLU -> GAP -> Dropout -> Linear``.

**Width multiplier from a parameter budget.** The paper sets ``mult = int(sqrt(limit / base))``
with ``base`` the 3x3-conv weights only, ignoring stem, merges and head, and flooring; random
configs then land anywhere in about -15%..+12% of the budget. nago counts the *exact* parameters
of the network for a given ``mult`` (the same recursion builds modules or counts, so the two cannot
drift apart) and picks the ``mult`` on a grid of 1/8 whose count is closest to ``param_limit``.
Measured spread of params/budget over 200 random configs per space at 4M, 32x32, 10 classes
(``tests/generator/test_model.py::test_param_budget_spread``; BENCHMARKS.md has the figures).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nago.errors import ConfigError
from nago.generator.spec import ArchSpec, Graph

LARGE_IMAGE = 40  # px; from this size on the stem downsamples by 4 (as in the original code)


# ---------------------------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------------------------
class Merge(nn.Module):
    """Combine a list of ``[B, C_e, H_e, W_e]`` tensors into one ``[B, C, H, W]`` tensor."""

    def __init__(self, in_widths: Sequence[int], width: int, mode: str, size: int | None) -> None:
        super().__init__()
        self.mode, self.size, self.n = mode, size, len(in_widths)
        self.proj = nn.ModuleList()
        scalars = 0
        for w in in_widths:
            if mode == "sum" and self.n > 1 and w != width:
                self.proj.append(nn.Conv2d(w, width, 1, bias=True))
            else:
                self.proj.append(nn.Identity())
                scalars += mode == "sum" and self.n > 1
        flags = [mode == "sum" and self.n > 1 and w == width for w in in_widths]
        self.gate = [sum(flags[:i]) if f else -1 for i, f in enumerate(flags)]  # index into weight, -1: projected
        self.weight = nn.Parameter(torch.ones(scalars)) if scalars else None

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.size is not None:
            xs = [F.adaptive_avg_pool2d(x, self.size) if x.shape[-1] != self.size else x for x in xs]
        if self.n == 1:
            return xs[0]
        if self.mode == "cat":
            return torch.cat(xs, dim=1)
        gate = torch.sigmoid(self.weight) if self.weight is not None else None
        out = None
        for i, (x, proj) in enumerate(zip(xs, self.proj)):
            y = x * gate[self.gate[i]] if self.gate[i] >= 0 else proj(x)
            out = y if out is None else out + y
        return out


def _op_layers(name: str, cin: int, cout: int) -> list[nn.Module]:
    k = int(name[-3])  # "conv3x3" -> 3
    if name.startswith("sepconv"):
        return [nn.Conv2d(cin, cin, k, padding=k // 2, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)]
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)]


def op_params(name: str, cin: int, cout: int) -> int:
    """Parameters of one op node (convs + BN affine), without building it."""
    k = int(name[-3])
    conv = k * k * cin + cin * cout if name.startswith("sepconv") else k * k * cin * cout
    return conv + 2 * cout


class OpBlock(nn.Sequential):
    """A bottom-level node: ``ReLU -> conv (stride 1, same padding) -> BN``."""

    def __init__(self, name: str, cin: int, cout: int) -> None:
        super().__init__(nn.ReLU(), *_op_layers(name, cin, cout), nn.BatchNorm2d(cout))


class GraphBlock(nn.Module):
    """One graph at any level: nodes in id order, each ``body(merge(inputs))``; output = mean of the
    output nodes (pooled to the smallest one's resolution, 1x1-projected where widths differ)."""

    def __init__(self, preds, merges, bodies, outputs, out_proj, out_size) -> None:
        super().__init__()
        self.preds = [list(p) for p in preds]
        self.merges, self.bodies = nn.ModuleList(merges), nn.ModuleList(bodies)
        self.outputs = list(outputs)
        self.out_proj = nn.ModuleList(out_proj)
        self.out_size = out_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res: list[torch.Tensor] = []
        for preds, merge, body in zip(self.preds, self.merges, self.bodies):
            res.append(body(merge([x] if not preds else [res[p] for p in preds])))
        out = None
        for o, proj in zip(self.outputs, self.out_proj):
            y = res[o]
            if self.out_size is not None and y.shape[-1] != self.out_size:
                y = F.adaptive_avg_pool2d(y, self.out_size)
            y = proj(y)
            out = y if out is None else out + y
        return out if len(self.outputs) == 1 else out / len(self.outputs)


class Network(nn.Module):
    """Stem -> top-level graph block -> head. Input ``[B, C_in, H, W]``, output logits ``[B, classes]``."""

    def __init__(self, stem: nn.Module, body: nn.Module, head: nn.Module, *, info: dict) -> None:
        super().__init__()
        self.stem, self.body, self.head = stem, body, head
        self.info = info

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


# ---------------------------------------------------------------------------------------------
# one recursion that either builds modules or counts their parameters
# ---------------------------------------------------------------------------------------------
class _Build:
    def merge(self, in_widths, width, mode, size):
        return Merge(in_widths, width, mode, size)

    def op(self, name, cin, cout):
        return OpBlock(name, cin, cout)

    def proj(self, cin, cout):
        return nn.Conv2d(cin, cout, 1, bias=True) if cin != cout else nn.Identity()

    def graph(self, preds, merges, bodies, outputs, out_proj, out_size):
        return GraphBlock(preds, merges, bodies, outputs, out_proj, out_size)


class _Count:
    def merge(self, in_widths, width, mode, size):
        if len(in_widths) == 1 or mode == "cat":
            return 0
        return sum(1 if w == width else w * width + width for w in in_widths)

    def op(self, name, cin, cout):
        return op_params(name, cin, cout)

    def proj(self, cin, cout):
        return 0 if cin == cout else cin * cout + cout

    def graph(self, preds, merges, bodies, outputs, out_proj, out_size):
        return sum(merges) + sum(bodies) + sum(out_proj)


def _merged_width(widths: Sequence[int], mode: str) -> int:
    return sum(widths) if mode == "cat" else widths[-1]


def _inner(graph: Graph, in_width: int, width: int, mode: str, f) -> object:
    """A mid- or bottom-level graph whose nodes all have ``width`` output channels."""
    merges, bodies = [], []
    for node in graph.nodes:
        ins = [in_width] if not node.preds else [width] * len(node.preds)
        cin = _merged_width(ins, mode)
        merges.append(f.merge(ins, cin, mode, None))
        bodies.append(f.op(node.op, cin, width) if node.graph is None else _inner(node.graph, cin, width, mode, f))
    outs = graph.outputs
    return f.graph([n.preds for n in graph.nodes], merges, bodies, outs, [f.proj(width, width) for _ in outs], None)


def _top(spec: ArchSpec, stem_width: int, widths: Sequence[int], sizes: Sequence[int], f) -> tuple[object, int]:
    node_w = [widths[s] for s in spec.stages]
    node_s = [sizes[s] for s in spec.stages]
    merges, bodies = [], []
    for i, node in enumerate(spec.top.nodes):
        ins = [stem_width] if not node.preds else [node_w[p] for p in node.preds]
        cin = _merged_width(ins, spec.merge)
        merges.append(f.merge(ins, cin, spec.merge, node_s[i]))
        bodies.append(_inner(node.graph, cin, node_w[i], spec.merge, f))
    outs = spec.top.outputs
    final = node_w[outs[-1]]
    proj = [f.proj(node_w[o], final) for o in outs]
    block = f.graph([n.preds for n in spec.top.nodes], merges, bodies, outs, proj, min(node_s[o] for o in outs))
    return block, final


def _plan(spec: ArchSpec, mult: float, image_size: int) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    widths = tuple(max(1, int(round(r * mult))) for r in spec.channel_ratios)
    base = image_size if image_size < LARGE_IMAGE else max(1, image_size // 4)
    sizes = tuple(max(1, base // 2**s) for s in range(len(widths)))
    return widths[0], widths, sizes


def _stem(in_channels: int, width: int, image_size: int, f) -> object:
    if image_size < LARGE_IMAGE:
        if isinstance(f, _Count):
            return 9 * in_channels * width + 9 * width * width + 4 * width
        return nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
        )
    half = max(1, width // 2)
    if isinstance(f, _Count):
        return 9 * in_channels + in_channels * half + 2 * half + 9 * half + half * width + 2 * width
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride=2, padding=1, groups=in_channels, bias=False),
        nn.Conv2d(in_channels, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
        nn.Conv2d(half, half, 3, stride=2, padding=1, groups=half, bias=False),
        nn.Conv2d(half, width, 1, bias=False), nn.BatchNorm2d(width),
    )


def _head(width: int, head_width: int, num_classes: int, dropout: float, f) -> object:
    if isinstance(f, _Count):
        return width * head_width + 2 * head_width + head_width * num_classes + num_classes
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(width, head_width, 1, bias=False), nn.BatchNorm2d(head_width), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(head_width, num_classes),
    )


def count_params(spec: ArchSpec, *, mult: float, in_channels: int, image_size: int, num_classes: int, head_width: int = 1280) -> int:
    """Exact number of parameters of ``build_model(spec, width_mult=mult, ...)``, without building it."""
    f = _Count()
    stem_w, widths, sizes = _plan(spec, mult, image_size)
    body, final = _top(spec, stem_w, widths, sizes, f)
    return _stem(in_channels, stem_w, image_size, f) + body + _head(final, head_width, num_classes, 0.0, f)


MULT_STEP = 1 / 8  # granularity of the width multiplier


def choose_mult(spec: ArchSpec, *, param_limit: float, in_channels: int, image_size: int, num_classes: int, head_width: int = 1280) -> float:
    """The width multiplier (a multiple of :data:`MULT_STEP`) whose exact parameter count is closest
    to ``param_limit``. Widths are ``round(ratio * mult)``, so they follow the channel ratios up to
    rounding to whole channels; the fine grid keeps tiny-width networks (``mult`` of 4..8, where one
    whole step changes the parameter count by 25%+) close to the budget too."""
    def count(k: int) -> int:
        return count_params(spec, mult=k * MULT_STEP, in_channels=in_channels, image_size=image_size,
                            num_classes=num_classes, head_width=head_width)

    lo, hi = 1, 2
    while count(hi) < param_limit and hi < 1 << 20:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # count is non-decreasing in k: keep count(lo) < limit <= count(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < param_limit else (lo, mid)
    return min((lo, hi), key=lambda k: abs(count(k) - param_limit)) * MULT_STEP


def build_model(
    spec: ArchSpec,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    num_classes: int = 10,
    param_limit: float | None = 4e6,
    width_mult: float | None = None,
    head_width: int = 1280,
    dropout: float = 0.2,
) -> Network:
    """Build the network of ``spec``.

    Args:
        spec: the sampled architecture.
        in_channels: 1 (grey) or 3 (RGB).
        image_size: input side in px (8..224 and beyond); ``>= 40`` selects the large-image stem.
        num_classes: output logits.
        param_limit: parameter budget (count, not millions); sets the width multiplier.
        width_mult: use this multiplier instead of a budget.
        head_width: channels of the head's 1x1 conv (the paper's 1280; smaller for tiny budgets).
        dropout: before the classifier.

    Returns:
        A :class:`Network` with ``info`` = ``{"mult", "widths", "sizes", "params"}``.
    """
    for name, v, lo in (("in_channels", in_channels, 1), ("image_size", image_size, 1), ("num_classes", num_classes, 1), ("head_width", head_width, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ConfigError(f"{name}: got {v!r}; allowed: an integer >= {lo}")
    if width_mult is None:
        if param_limit is None or not (isinstance(param_limit, (int, float)) and param_limit > 0 and math.isfinite(param_limit)):
            raise ConfigError(f"param_limit: got {param_limit!r}; allowed: a positive number of parameters (e.g. 4e6)")
        width_mult = choose_mult(spec, param_limit=param_limit, in_channels=in_channels, image_size=image_size, num_classes=num_classes, head_width=head_width)
    elif not width_mult > 0:
        raise ConfigError(f"width_mult: got {width_mult!r}; allowed: a number > 0")
    f = _Build()
    stem_w, widths, sizes = _plan(spec, width_mult, image_size)
    body, final = _top(spec, stem_w, widths, sizes, f)
    net = Network(
        _stem(in_channels, stem_w, image_size, f), body, _head(final, head_width, num_classes, dropout, f),
        info={"mult": float(width_mult), "widths": list(widths), "sizes": list(sizes)},
    )
    _init(net)
    net.info["params"] = sum(p.numel() for p in net.parameters())
    return net


def _init(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
