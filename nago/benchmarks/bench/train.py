"""``nago bench train``: training throughput of the real trainer and the share of time spent on data.

Two workloads, each trained by :func:`nago.training.train.train_network` (the code path of every trial):

1. **digits**: the default run (``runs/digits.toml``): its dataset, budget, head and ``[train]``
   table (batch, optimiser, augmentation), and its space's default generator with ``N_t = 4``.
2. **cifar-synthetic**: a CIFAR-shaped set of random uint8 images (default 5,000 32x32x3, 10
   classes), so no data is needed, with the CIFAR run's training protocol (``runs/cifar10.toml``:
   batch 96, SGD, crop 4 + flip + cutout 16) and a network sampled from the space at a smaller budget
   (default 1M parameters; an epoch takes ~35 s on 2 idle CPU cores, so the default run takes ~80 s).

Figures per workload: training images/s over the whole run (first epoch included) and over the
epochs after the first (steady state), seconds per epoch, and ``data_fraction``, the trainer's
share of training time spent fetching and augmenting batches (outside forward, backward and the
optimiser step); the target is under 10 %. On CUDA the trainer measures it with ``profile_data``
(a sync around the data section of every step), which the bench switches on.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np
import torch

from nago.training.data.base import ArraySplit, DatasetSplits
from nago.errors import ConfigError
from nago.generator.hnag import generate
from nago.generator.profile import count_flops
from nago.config.run import RunConfig, build_objective
from nago.training.train import TrainConfig, resolve_device, train_network

RUNS = Path(__file__).resolve().parents[3] / "runs"
DATA_FRACTION_TARGET = 0.10
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=2, help="training epochs per workload (default 2)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave as is)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto)")
    p.add_argument("--digits-run", default=str(RUNS / "digits.toml"), help="run file of the digits workload")
    p.add_argument("--cifar-run", default=str(RUNS / "cifar10.toml"), help="run file giving the CIFAR protocol")
    p.add_argument("--images", type=int, default=5000, help="synthetic CIFAR-shaped training images (default 5000)")
    p.add_argument("--param-limit", type=float, default=1e6, help="budget of the synthetic-CIFAR net (default 1e6)")
    p.add_argument("--seed", type=int, default=0)


def synthetic_cifar(n: int, *, seed: int, classes: int = 10) -> DatasetSplits:
    """``n`` random uint8 ``[32, 32, 3]`` training images with random labels (val and test empty)."""
    rng = np.random.default_rng(seed)
    train = ArraySplit(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, classes, n))
    empty = ArraySplit(np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64))
    return DatasetSplits(name="cifar-synthetic", train=train, val=empty, test=empty, num_classes=classes,
                         image_size=32, in_channels=3, mean=CIFAR_MEAN, std=CIFAR_STD)


def _measure(name: str, run: RunConfig, config: dict, net: torch.nn.Module, data: DatasetSplits, *,
             epochs: int, seed: int, device: torch.device) -> dict:
    """Train ``net`` with the real trainer and ``run``'s ``[train]`` table; return throughput and data share."""
    train = dataclasses.replace(TrainConfig.from_dict({**run.train, "progress": False}), epochs=epochs,
                                profile_data=device.type == "cuda")
    flops = count_flops(net, (data.in_channels, data.image_size, data.image_size))
    result = train_network(net, data, config=train, seed=seed, device=device, evaluate_test=False)
    m, hist = result.metrics, result.history
    n, bs = len(data.train), train.batch_size
    per_epoch = (n // bs) * bs if n > bs else n  # the trainer drops the last partial batch
    steady = hist[1:] or hist
    return {
        "workload": name,
        "config": {k: config[k] for k in run.space.names},
        "params": net.info["params"],
        "mmacs": flops / 1e6,
        "image_size": data.image_size,
        "train_images": len(data.train),
        "batch_size": train.batch_size,
        "augment": dataclasses.asdict(train.augment),
        "epochs": len(hist),
        "epoch_seconds": [h["seconds"] for h in hist],
        "images_per_second": m["images_per_second"],
        "steady_images_per_second": per_epoch * len(steady) / sum(h["seconds"] for h in steady),
        "data_fraction": m.get("data_fraction"),
    }


def run(args: argparse.Namespace) -> dict:
    """Train both workloads; returns ``device``, ``threads``, ``load_average`` and one dict per workload."""
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads: got {args.threads}; allowed: an integer >= 1")
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    load_before = os.getloadavg()[0]

    digits_run = RunConfig.from_toml(args.digits_run)
    data = build_objective(digits_run).load_data()
    config = digits_run.space.validate({"N_t": 4}, partial=True)
    torch.manual_seed(args.seed)
    net = digits_run.model.build(generate(config, args.seed), in_channels=data.in_channels, image_size=data.image_size,
                                 num_classes=data.num_classes, seed=args.seed)
    digits = _measure("digits", digits_run, config, net, data, epochs=args.epochs, seed=args.seed, device=device)

    cifar_run = RunConfig.from_toml(args.cifar_run)
    data = synthetic_cifar(args.images, seed=args.seed)
    config = cifar_run.space.sample(np.random.default_rng(args.seed), 1)[0]
    torch.manual_seed(args.seed)
    net = dataclasses.replace(cifar_run.model, param_limit=args.param_limit).build(
        generate(config, args.seed), in_channels=3, image_size=32, num_classes=10, seed=args.seed)
    cifar = _measure("cifar-synthetic", cifar_run, config, net, data, epochs=args.epochs, seed=args.seed, device=device)
    return {"device": str(device), "threads": torch.get_num_threads(), "target_data_fraction": DATA_FRACTION_TARGET,
            "load_average": [load_before, os.getloadavg()[0]], "workloads": [digits, cifar]}


def format(r: dict) -> str:
    lines = [f"training throughput with nago.training.train.train_network on {r['device']}, {r['threads']} threads",
             f"  {'workload':<17}{'params':>9}{'MMACs':>8}{'px':>5}{'images':>8}{'batch':>6}{'epochs':>7}"
             f"{'img/s':>8}{'steady':>8}{'s/epoch':>9}{'data %':>8}"]
    for w in r["workloads"]:
        frac = w["data_fraction"]
        lines.append(
            f"  {w['workload']:<17}{w['params'] / 1e6:>8.3f}M{w['mmacs']:>8.1f}{w['image_size']:>5}"
            f"{w['train_images']:>8}{w['batch_size']:>6}{w['epochs']:>7}{w['images_per_second']:>8.0f}"
            f"{w['steady_images_per_second']:>8.0f}{np.median(w['epoch_seconds']):>9.2f}"
            f"{'n/a' if frac is None else f'{100 * frac:.1f}':>8}"
        )
    for w in r["workloads"]:
        aug = ", ".join(f"{k}={v}" for k, v in w["augment"].items() if v) or "none"
        cfg = " ".join(f"{k}={v:g}" for k, v in w["config"].items())
        lines.append(f"  {w['workload']}: generator {cfg}; augment {aug}")
    worst = max((w["data_fraction"] for w in r["workloads"] if w["data_fraction"] is not None), default=None)
    if worst is not None:
        verdict = "met" if worst < r["target_data_fraction"] else "NOT met"
        lines.append(f"data + augmentation share: at most {100 * worst:.1f}% of training time "
                     f"(target < {100 * r['target_data_fraction']:.0f}%: {verdict})")
    before, after = r["load_average"]
    lines.append(f"1-min load average before / after: {before:.2f} / {after:.2f} (other processes slow CPU figures; "
                 "with 2+ threads on a shared machine, OpenMP spin-waits make it much worse)")
    m = r["machine"]
    lines.append(f"machine: {m['cpu']}, {m['threads']} threads, torch {m['torch']}, cuda {m['cuda']}, {m['date']}")
    return "\n".join(lines)
