"""The ``nago`` command line: one entry point, one sub-command per job.

Every user error (bad TOML, unknown parameter, value out of range, missing data) prints one line
``nago: error: ...`` and exits with status 2; nothing prints a traceback unless ``NAGO_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Sequence

from nago.errors import ConfigError, NagoError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def deco(fn):
        COMMANDS[name] = fn
        return fn

    return deco


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


# ---------------------------------------------------------------------------------------------
# nago sample
# ---------------------------------------------------------------------------------------------
def sample_network(path: str, *, assignments: Sequence[str] = (), seed: int = 0, param_limit: float | None = None,
                   image_size: int | None = None, classes: int | None = None, channels: int | None = None) -> dict[str, Any]:
    """Sample one network from a space or run file; returns its summary, sizes and costs."""
    import dataclasses

    import numpy as np

    from nago.generator.hnag import generate
    from nago.generator.profile import profile
    from nago.config.run import ModelSection, load_space_or_run
    from nago.config.space import parse_assignments

    space, run = load_space_or_run(path)
    if space.is_table:
        raise ConfigError(f"{path}: space {space.name!r} is a table space (kind = \"table\"): its configs are rows of "
                          "a table, no network is sampled; allowed: a generator space or run file (e.g. spaces/hnag.toml)")
    drawn = space.sample(np.random.default_rng(seed), 1)[0]
    config = space.validate({**drawn, **parse_assignments(assignments)})
    c, size, k = run.shape() if run else (3, 32, 10)
    model = run.model if run else ModelSection()
    if param_limit is not None:
        model = dataclasses.replace(model, param_limit=param_limit)
    limit = model.param_limit
    channels = channels or c
    size = image_size or size
    model, generator_config = model.split(config)
    limit = model.param_limit
    spec = generate(generator_config, seed)
    net = model.build(spec, in_channels=channels, image_size=size, num_classes=classes or k, seed=seed)
    prof = profile(net, (channels, size, size))
    summary = spec.summary()
    return {
        **summary,
        "config": config,
        "seed": seed,
        "params": prof.params,
        "flops": prof.flops,
        "memory_mb": prof.memory_mb,
        "mult": net.info["mult"],
        "widths": net.info["widths"],
        "resolutions": net.info["sizes"],
        "param_limit": limit,
        "input": [channels, size, size],
    }


@command("sample")
def _cmd_sample(args: argparse.Namespace) -> int:
    out = sample_network(args.file, assignments=args.set, seed=args.seed, param_limit=args.param_limit,
                         image_size=args.image_size, classes=args.classes, channels=args.channels)
    if args.json:
        _print_json(out)
        return 0
    cfg = " ".join(f"{k}={v}" for k, v in out["config"].items())
    print(f"generator   {cfg}")
    print(f"network     {out['fingerprint']}  (seed {out['seed']})")
    print(f"structure   {out['cells']} cells, {out['modules']} modules, {out['op_nodes']} op nodes "
          f"({', '.join(f'{n} {o}' for o, n in out['ops'].items())}), merge {out['merge']}")
    print(f"stages      {out['cells_per_stage']} cells at {out['resolutions']} px, widths {out['widths']} (mult {out['mult']})")
    print(f"params      {out['params'] / 1e6:.3f}M  (budget {out['param_limit'] / 1e6:.3f}M)")
    print(f"flops       {out['flops'] / 1e6:.1f}M MACs per {out['input'][1]}x{out['input'][2]} image")
    print(f"memory      {out['memory_mb']:.2f} MiB saved for backward per training sample")
    return 0


# ---------------------------------------------------------------------------------------------
# nago evaluate
# ---------------------------------------------------------------------------------------------
@command("evaluate")
def _cmd_evaluate(args: argparse.Namespace) -> int:
    from nago.errors import EvalFailure
    from nago.config.run import RunConfig, build_objective
    from nago.config.space import parse_assignments

    run = RunConfig.from_toml(args.run)
    config = run.space.validate(parse_assignments(args.set), partial=True)
    objective = build_objective(run, data_root=args.data_root, device=args.device, samples=args.samples,
                                progress=False if args.json else None, evaluate_test=True)
    seed = run.seed if args.seed is None else args.seed
    try:
        result = objective(config, seed=seed, fidelity=args.epochs)
    except EvalFailure as e:
        if args.json:
            _print_json({"config": config, "failed": e.kind, "message": e.message, "samples": e.sample_metrics})
        print(f"nago: evaluation failed ({e.kind}): {e.message}", file=sys.stderr)
        return 1
    m = result.metrics
    if run.space.is_table:  # a looked-up row: its metric columns, no networks
        if args.json:
            _print_json({**m, "config": config})
            return 0
        print("config  " + " ".join(f"{k}={v}" for k, v in config.items() if run.space[k].searchable))
        for name, value in m.items():
            print(f"{name:<32}{value:>14.6g}")
        return 0
    if args.json:
        _print_json({**m, "config": config, "seed": seed, "samples": result.sample_metrics})
        return 0
    print("generator  " + " ".join(f"{k}={v}" for k, v in config.items() if run.space[k].searchable))
    print(f"{'network':>8}{'val_acc':>10}{'test_acc':>10}{'params':>10}{'MMACs':>10}{'mem MiB':>10}{'train s':>10}")
    for i, s in enumerate(result.sample_metrics):
        print(f"{i:>8}{s['val_acc']:>10.4f}{s.get('test_acc', float('nan')):>10.4f}{s['params'] / 1e6:>9.3f}M"
              f"{s['flops'] / 1e6:>10.1f}{s['memory_mb']:>10.2f}{s['train_seconds']:>10.1f}")
    print(f"{'mean':>8}{m['val_acc']:>10.4f}{m.get('test_acc', float('nan')):>10.4f}{m['params'] / 1e6:>9.3f}M"
          f"{m['flops'] / 1e6:>10.1f}{m['memory_mb']:>10.2f}{m['train_seconds']:>10.1f}")
    print(f"{'std':>8}{m['val_acc_std']:>10.4f}{m.get('test_acc_std', float('nan')):>10.4f}")
    return 0


# ---------------------------------------------------------------------------------------------
# nago search / report / export
# ---------------------------------------------------------------------------------------------
def _front_table(study) -> str:
    from nago.analysis.report import markdown_table

    names = [o.name for o in study.objectives]
    rows = [{"trial": t.id, **{n: t.metrics[n] for n in names}, **{p.name: t.config[p.name] for p in study.space.searchable}}
            for t in sorted(study.pareto_front(), key=lambda t: t.metrics[names[0]])]
    return markdown_table(rows, ["trial", *names, *[p.name for p in study.space.searchable]])


@command("search")
def _cmd_search(args: argparse.Namespace) -> int:
    from nago.config.run import RunConfig, build_executor
    from nago.config.space import parse_assignments
    from nago.study.from_run import study_from_run

    run = RunConfig.from_toml(args.run)
    executor = build_executor(run, name=args.executor, workers=args.workers)
    study = study_from_run(run, out=args.out, strategy=args.strategy, seed=args.seed, resume=args.resume,
                           assignments=parse_assignments(args.set), data_root=args.data_root, device=args.device,
                           warm_start=args.warm_start or None)
    trials = args.trials if args.trials is not None else run.search.trials
    limit = args.time_limit if args.time_limit is not None else run.search.time_limit_s
    print(f"nago: study {study.name} in {study.run_dir} ({study.strategy_name}, objectives "
          f"{', '.join(map(str, study.objectives))}, {trials} trials)", file=sys.stderr)
    if study.warm_start is not None:
        print(f"nago: warm start from {study.warm_start.describe()}", file=sys.stderr)
    try:
        study.optimize(n_trials=trials, timeout_s=limit, progress=not args.no_progress, executor=executor)
    finally:
        executor.shutdown()
        written = study.report(plots=not args.no_plots)
    done = [t for t in study.trials if t.state.value == "complete"]
    failed = [t for t in study.trials if t.state.value == "failed"]
    print(f"\n{len(done)} complete, {len(failed)} failed. Pareto front:\n")
    print(_front_table(study))
    print(f"\nreport: {written['report.md']}")
    return 0


@command("report")
def _cmd_report(args: argparse.Namespace) -> int:
    from nago.analysis.report import write_report

    written = write_report(args.run_dir, plots=not args.no_plots)
    for name, path in written.items():
        print(f"{name:<12} {path}")
    return 0


@command("export")
def _cmd_export(args: argparse.Namespace) -> int:
    from nago.analysis.export import export_trial

    out = export_trial(args.run_dir, args.trial, out=args.out, seed=args.seed, epochs=args.epochs,
                       data_root=args.data_root, device=args.device)
    if args.json:
        _print_json({k: str(v) if isinstance(v, __import__("pathlib").Path) else v for k, v in out.items()})
        return 0
    print(f"trial {out['trial']}: network {out['fingerprint']} (seed {out['network_seed']}), "
          f"{out['params'] / 1e6:.3f}M params, input {out['input_shape']}")
    for key in ("generator", "arch", "model"):
        print(f"  {key:<10} {out[key]}")
    if out["trained"]:
        print(f"  weights    trained: val_acc {out['trained'].get('val_acc', float('nan')):.4f}, "
              f"test_acc {out['trained'].get('test_acc', float('nan')):.4f}")
    else:
        print(f"  weights    UNTRAINED ({out['weights_note']})")
    pre = out["preprocessing"]
    print(f"  input      {pre['input']}; mean {pre['mean']}, std {pre['std']}")
    if out["classes"]:
        print(f"  classes    {len(out['classes'])}: {', '.join(map(str, out['classes'][:10]))}{', ...' if len(out['classes']) > 10 else ''}")
    print("load it with: torch.jit.load(PATH)  (record: _extra_files={'nago.json': ''})")
    return 0


# ---------------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nago",
        description="Neural architecture generator search: sample, evaluate and search hierarchical random-graph "
        "network generators, and report their Pareto fronts.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("sample", help="sample one network from a generator and print its size and cost",
                       description="Sample a network from a generator config. Parameters not set with --set are "
                       "drawn at random from the space; --seed seeds that draw and the random graphs.")
    s.add_argument("file", metavar="SPACE_OR_RUN_TOML", help="a space (spaces/*.toml) or run config (runs/*.toml)")
    s.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="fix a generator parameter (repeatable)")
    s.add_argument("--seed", type=int, default=0, help="seed of the parameter draw and the graphs (default 0)")
    s.add_argument("--param-limit", type=float, default=None, help="parameter budget (default: the run's, else 4e6)")
    s.add_argument("--image-size", type=int, default=None, help="input side in px (default: the run's dataset, else 32)")
    s.add_argument("--classes", type=int, default=None, help="number of classes (default: the run's dataset, else 10)")
    s.add_argument("--channels", type=int, default=None, help="input channels (default: the run's dataset, else 3)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    e = sub.add_parser("evaluate", help="train networks sampled from one generator config and report their accuracy",
                       description="Evaluate one generator config on the run's dataset: sample K networks, train each "
                       "for E epochs, report mean and std. Parameters not set with --set take the space's defaults "
                       "(the centre of each range). The paper's final protocol is --samples 8 --epochs 600.")
    e.add_argument("run", metavar="RUN_TOML", help="a run config (runs/*.toml)")
    e.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a generator parameter (repeatable)")
    e.add_argument("--samples", type=int, default=None, help="networks sampled from the generator (default: the run's)")
    e.add_argument("--epochs", type=float, default=None, help="training epochs per network (default: the run's)")
    e.add_argument("--data-root", default=None, help="dataset folder (default: the run's [data] root)")
    e.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N (default: the run's, else auto)")
    e.add_argument("--seed", type=int, default=None, help="trial seed; network seeds derive from it (default: the run's)")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    se = sub.add_parser("search", help="search generator configs (multi-objective BO, BOHB or random) on a run",
                        description="Search the run's generator space: each trial samples networks from a generator "
                        "config, trains them, and records accuracy and cost in RUN_DIR/study.sqlite. A killed search "
                        "continues with --resume. Reports (trials.csv, pareto.csv, report.md, PNG plots) are written "
                        "at the end.")
    se.add_argument("run", metavar="RUN_TOML", help="a run config (runs/*.toml)")
    se.add_argument("--trials", type=int, default=None, help="finished trials the study should end with (default: the run's)")
    from nago.strategies import STRATEGIES  # names only: the strategy modules (torch) load when one runs

    se.add_argument("--strategy", default=None, metavar="NAME",
                    help=f"search strategy: {', '.join(STRATEGIES.names())} (default: the run's [search] strategy)")
    se.add_argument("--resume", action="store_true", help="continue the study in --out (finished trials are kept)")
    se.add_argument("--seed", type=int, default=None, help="root seed of the study (default: the run's)")
    se.add_argument("--out", default=None, help="run directory (default: runs/out/<run name>)")
    se.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="fix a generator parameter (repeatable)")
    se.add_argument("--warm-start", action="append", default=[], metavar="STUDY_DIR",
                    help="start from an earlier study over the same space: its best configs first, its observations in "
                    "the model (repeatable; default: the run's [search] warm_start; mobo, mo-bohb, moasha, bohb)")
    se.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds (default: the run's, else none)")
    se.add_argument("--data-root", default=None, help="dataset folder (default: the run's [data] root)")
    se.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N (default: the run's, else auto)")
    se.add_argument("--executor", default=None, choices=["inline", "local", "ray"],
                    help="where trials run: in this process, a fresh process per trial, or a Ray cluster (default: the run's, else inline)")
    se.add_argument("--workers", type=int, default=None, help="trials at once with local/ray (default: GPUs, else CPU cores)")
    se.add_argument("--no-progress", action="store_true", help="no progress bar")
    se.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    r = sub.add_parser("report", help="write tables, a Markdown summary and plots of a study",
                       description="Write trials.csv, pareto.csv, report.md, pareto.png and hypervolume.png into RUN_DIR.")
    r.add_argument("run_dir", metavar="RUN_DIR", help="a study directory (holds study.sqlite)")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    x = sub.add_parser("export", help="export a trial's generator, a network it generates and its TorchScript",
                       description="Write generator.json, arch.json and model.pt (TorchScript, loads with plain "
                       "torch.jit.load) for one trial. The network is the trial's first sampled one unless --seed is given; "
                       "it is untrained unless --epochs trains it on the run's data first.")
    x.add_argument("run_dir", metavar="RUN_DIR", help="a study directory (holds study.sqlite)")
    x.add_argument("--trial", type=int, required=True, help="trial id (see trials.csv / pareto.csv)")
    x.add_argument("--out", default=None, help="output folder (default: RUN_DIR/export/trial-ID)")
    x.add_argument("--seed", type=int, default=None, help="network seed (default: the trial's first network)")
    x.add_argument("--epochs", type=float, default=None, help="train the network for this many epochs before export")
    x.add_argument("--data-root", default=None, help="dataset folder when training (default: the run's)")
    x.add_argument("--device", default=None, help="device when training (default: the run's)")
    x.add_argument("--json", action="store_true", help="print one JSON object")

    from nago.benchmarks.bench import add_bench_parser

    add_bench_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    # BoTorch still calls torch.jit.script at import; users cannot act on that warning.
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except NagoError as e:
        if os.environ.get("NAGO_DEBUG"):
            raise
        print(f"nago: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nago: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
