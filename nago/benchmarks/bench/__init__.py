"""``nago bench ...``: benchmarks that print figures (never timed assertions in tests).

Each benchmark module registers a sub-command in :data:`BENCHES` with ``add_arguments(parser)`` and
``run(args) -> dict``; the result is printed as a readable table, or as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time

# name -> (module, help). Modules are imported only when their benchmark runs.
BENCHES = {
    "generator": ("nago.benchmarks.bench.generator", "sample+build time and training throughput of random-wired nets vs a plain conv net"),
    "train": ("nago.benchmarks.bench.train", "images/s of the real trainer (digits run, synthetic CIFAR with augmentation) and its data-time share"),
    "mobo-synthetic": ("nago.benchmarks.bench.mobo_synthetic", "hypervolume of mobo vs random on BoTorch's BraninCurrin and DTLZ2 through the Study loop, and MOBO ask time"),
    "parallel": ("nago.benchmarks.bench.parallel", "wall-clock speed-up of 2 workers over 1 (local processes, Ray) on the NB201 table with a per-trial delay"),
    "search": ("nago.benchmarks.bench.search", "strategies (random, rea, optuna-tpe, mobo, ...) head to head on a tabular benchmark such as NAS-Bench-201 through the Study loop"),
    "generators": ("nago.benchmarks.bench.generators", "generator search strategies (mobo, bohb, random, nao, optuna-tpe) and RNAG head to head with live training on a run file: hypervolume at 8/16/24 trials over seeds, fronts, final re-training (test accuracy, memory), time split"),
    "surrogate": ("nago.benchmarks.bench.surrogate", "NAO predictors (lstm/transformer/gnn, with and without ranking loss) vs a one-hot GP on a tabular benchmark: Kendall tau, pairwise accuracy, reconstruction"),
}


def machine() -> dict:
    """What the figures were measured on."""
    import torch

    return {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


class _LazyBenchParser(argparse.ArgumentParser):
    """A benchmark's sub-parser whose module (torch, BoTorch, ...) is imported only when that
    benchmark's arguments are parsed or its help is shown, never while the ``nago`` parser is built."""

    def __init__(self, *args, bench_module: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bench_module = bench_module
        self._populated = False

    def _populate(self) -> None:
        if not self._populated:
            self._populated = True
            importlib.import_module(self._bench_module).add_arguments(self)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._populate()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._populate()
        return super().format_help()

    def format_usage(self) -> str:
        self._populate()
        return super().format_usage()


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``nago bench BENCH ...``; each benchmark module is imported only when it is named."""
    from nago.cli import command

    b = sub.add_parser("bench", help="run a benchmark and print its figures", description="Benchmarks; see BENCHMARKS.md.")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH", required=True, parser_class=_LazyBenchParser)
    for name, (module, help_text) in BENCHES.items():
        p = bsub.add_parser(name, help=help_text, description=help_text, bench_module=module)
        p.add_argument("--json", action="store_true", help="print one JSON object")

    @command("bench")
    def _run(args: argparse.Namespace) -> int:
        mod = importlib.import_module(BENCHES[args.bench][0])
        result = mod.run(args)
        result["machine"] = machine()
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        else:
            print(mod.format(result))
        return 0
