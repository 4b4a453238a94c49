"""``nago bench generator``: how fast the generator is, and what random wiring costs in training.

1. Median wall time to sample an ArchSpec from a random config of the space and build the
   ``nn.Module`` at the parameter budget (default 4M, 32x32, 10 classes).
2. Training throughput (images/s; forward + backward + SGD step, batch 64, 32x32) of sampled HNAG
   networks against a plain sequential conv net built in the same run with the same stem, head,
   stage widths and resolutions and the same number of 3x3 convs per stage, so their FLOPs match up
   to the merges' 1x1 convs (both FLOP counts are printed). The figure of merit is the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

from nago.generator.hnag import generate
from nago.generator.model import Network, OpBlock, build_model
from nago.generator.profile import count_flops
from nago.config.space import SearchSpace


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="spaces/hnag.toml", help="space TOML (default spaces/hnag.toml)")
    p.add_argument("--builds", type=int, default=30, help="configs sampled for the build timing (default 30)")
    p.add_argument("--param-limit", type=float, default=4e6, help="budget for the build timing (default 4e6)")
    p.add_argument("--nets", type=int, default=4, help="sampled networks in the throughput comparison (default 4)")
    p.add_argument("--train-param-limit", type=float, default=1e6, help="budget of the throughput nets (default 1e6)")
    p.add_argument("--steps", type=int, default=5, help="timed training steps per net (default 5)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's default)")


def plain_twin(net: Network, spec) -> nn.Module:
    """A sequential conv net with ``net``'s stem, head, widths, sizes and per-stage 3x3 conv count."""
    widths, sizes = net.info["widths"], net.info["sizes"]
    per_stage = [0] * len(widths)
    for cell, stage in zip(spec.top.nodes, spec.stages):
        per_stage[stage] += sum(1 for _ in cell.graph.ops())
    layers: list[nn.Module] = []
    cin = widths[0]
    for s, n in enumerate(per_stage):
        if n == 0:
            continue
        layers.append(nn.AdaptiveAvgPool2d(sizes[s]))
        for _ in range(n):
            layers.append(OpBlock("conv3x3", cin, widths[s]))
            cin = widths[s]
    head = net.head
    head[1] = nn.Conv2d(cin, head[1].out_channels, 1, bias=False)
    return nn.Sequential(net.stem, *layers, head)


def _throughput(model: nn.Module, batch: int, steps: int, size: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 10, (batch,))
    model.train()
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if i:  # the first step is warm-up
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def run(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    space = SearchSpace.from_toml(args.space)
    rng = np.random.default_rng(args.seed)
    build_s, ratios = [], []
    for i, cfg in enumerate(space.sample(rng, args.builds)):
        t0 = time.perf_counter()
        net = build_model(generate(cfg, args.seed + i), param_limit=args.param_limit)
        build_s.append(time.perf_counter() - t0)
        ratios.append(net.info["params"] / args.param_limit)
    nets = []
    for i, cfg in enumerate(space.sample(rng, args.nets)):
        spec = generate(cfg, 1000 + i)
        torch.manual_seed(i)
        net = build_model(spec, param_limit=args.train_param_limit)
        twin = plain_twin(build_model(spec, param_limit=args.train_param_limit), spec)
        f_net, f_twin = count_flops(net, (3, 32, 32)), count_flops(twin, (3, 32, 32))
        ips_net = _throughput(net, args.batch, args.steps, 32)
        ips_twin = _throughput(twin, args.batch, args.steps, 32)
        nets.append({"fingerprint": spec.fingerprint, "op_nodes": sum(1 for _ in spec.top.ops()),
                     "flops_hnag": f_net, "flops_plain": f_twin, "ips_hnag": ips_net, "ips_plain": ips_twin,
                     "ratio": ips_net / ips_twin, "ratio_per_flop": ips_net * f_net / (ips_twin * f_twin)})
    return {
        "space": args.space,
        "build": {"param_limit": args.param_limit, "n": args.builds, "median_s": statistics.median(build_s),
                  "max_s": max(build_s), "params_ratio_min": min(ratios), "params_ratio_max": max(ratios)},
        "throughput": {"batch": args.batch, "param_limit": args.train_param_limit, "nets": nets,
                       "median_ratio": statistics.median(n["ratio"] for n in nets),
                       "median_ratio_per_flop": statistics.median(n["ratio_per_flop"] for n in nets)},
    }


def format(r: dict) -> str:
    b, t = r["build"], r["throughput"]
    lines = [
        f"space {r['space']}",
        f"sample + build at {b['param_limit']/1e6:g}M params: median {b['median_s']*1e3:.0f} ms, max {b['max_s']*1e3:.0f} ms "
        f"over {b['n']} configs; params/budget {b['params_ratio_min']:.3f}..{b['params_ratio_max']:.3f}",
        f"training throughput, batch {t['batch']}, 32x32, {t['param_limit']/1e6:g}M-param nets (images/s):",
        f"  {'network':<18}{'ops':>5}{'MMACs hnag':>12}{'MMACs plain':>12}{'hnag':>9}{'plain':>9}{'ratio':>8}",
    ]
    for n in t["nets"]:
        lines.append(f"  {n['fingerprint']:<18}{n['op_nodes']:>5}{n['flops_hnag']/1e6:>12.1f}{n['flops_plain']/1e6:>12.1f}"
                     f"{n['ips_hnag']:>9.1f}{n['ips_plain']:>9.1f}{n['ratio']:>8.2f}")
    lines.append(f"median ratio hnag/plain: {t['median_ratio']:.2f} (per FLOP: {t['median_ratio_per_flop']:.2f})")
    m = r["machine"]
    lines.append(f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, cuda {m['cuda']}, {m['date']}")
    return "\n".join(lines)
