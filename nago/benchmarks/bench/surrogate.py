"""``nago bench surrogate SPACE_TOML``: how well NAO predictors rank a tabular benchmark (NAS-Bench-201).

For every seed and train size ``n``: one random representative config per distinct architecture
(the table's ``dedupe`` groups; every row when there is none), shuffled by the seed; train on the first
``n``, test on the rest (or a random ``--test-size`` of them). Target: the first ``search`` metric
(maximisation sense). Models, all trained in the same run on the same split:

- ``nao-ENCODER`` for each of ``--encoders`` (``lstm``, ``transformer``, ``gnn``; ``gnn`` only where
  the space has a graph view): :class:`~nago.nao.model.NAOModel` without a ranking loss;
- ``nao-ENCODER+rank``: the same with the pairwise hinge ranking loss;
- ``gp-onehot``: the reference, a BoTorch ``SingleTaskGP`` on the one-hot token encoding
  (standardised outcome, marginal-likelihood fit), scored by its posterior mean.

Figures on the test set: Kendall tau (tau-b), Spearman rho, NAO's pairwise accuracy over all pairs
(``(y_i >= y_j and p_i >= p_j) or (y_i < y_j and p_i < p_j)``), and the decoder's exact
reconstruction rate (greedy constrained decode of the encoding; ``null`` for the GP). Mean and std
over seeds; also the fit seconds.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from typing import Any

import numpy as np

from nago.errors import ConfigError

_MAX_CONFIGS = 500_000
METRICS = ("kendall_tau", "spearman_rho", "pairwise_acc", "reconstruction", "fit_seconds")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("space", help="table space TOML (e.g. spaces/nb201.toml)")
    p.add_argument("--train-sizes", default="100,500,1000", help="comma-separated train sizes (default 100,500,1000)")
    p.add_argument("--seeds", type=int, default=1, help="random splits, seeds 0..S-1 (default 1)")
    p.add_argument("--encoders", default="lstm,transformer,gnn", help="NAO encoders (default lstm,transformer,gnn)")
    p.add_argument("--steps", type=int, default=1000, help="Adam updates per NAO fit (default 1000)")
    p.add_argument("--test-size", type=int, default=0, help="test on this many of the rest (default 0: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def pairwise_accuracy(y: np.ndarray, p: np.ndarray, chunk: int = 1024) -> float:
    """NAO's pairwise accuracy of predictions ``p [n]`` against truths ``y [n]`` over all pairs ``i < j``."""
    n, good = len(y), 0
    for s in range(0, n, chunk):
        yi, pi = y[s:s + chunk, None], p[s:s + chunk, None]
        ok = ((yi >= y) & (pi >= p)) | ((yi < y) & (pi < p))
        upper = np.arange(s, min(s + chunk, n))[:, None] < np.arange(n)[None, :]
        good += int((ok & upper).sum())
    return good / (n * (n - 1) / 2)


def universe(space, table) -> tuple[list[dict], np.ndarray]:
    """Every config of the (finite) table space that has a row, and its dedupe group ``[N]``."""
    levels = [list(p.choices) if p.type == "categorical" else list(range(int(p.low), int(p.high) + 1))
              for p in space.searchable]
    if np.prod([len(v) for v in levels], dtype=float) > _MAX_CONFIGS:
        raise ConfigError(f"bench surrogate: space {space.name!r} has more than {_MAX_CONFIGS} configs; "
                          "allowed: a smaller table space")
    configs, groups = [], []
    for values in itertools.product(*levels):
        c = space.validate(dict(zip(space.names, values)))
        try:
            row = table.row(c)
        except ConfigError:
            continue
        configs.append(c)
        groups.append(int(table.groups[row]))
    return configs, np.asarray(groups)


def split(groups: np.ndarray, n: int, seed: int, test_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``n`` train and the test configs: one random member per group, shuffled by ``seed``."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(groups))
    by_group = perm[np.argsort(groups[perm], kind="stable")]  # groups in order, members shuffled
    _, first = np.unique(groups[by_group], return_index=True)
    reps = rng.permutation(by_group[first])
    if n >= len(reps) - 1:
        raise ConfigError(f"bench surrogate: train size {n} leaves no test set; allowed: below {len(reps) - 1} "
                          f"(the table has {len(reps)} distinct architectures)")
    test = reps[n:]
    if 0 < test_size < len(test):
        test = test[:test_size]
    return reps[:n], test


def gp_predict(Xtr, ytr, Xte):
    """Posterior mean ``[k]`` of a SingleTaskGP fitted on ``Xtr [n, D]``, ``ytr [n]`` at ``Xte [k, D]``."""
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp = SingleTaskGP(Xtr, ytr.reshape(-1, 1).double(), outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        with torch.no_grad():
            return torch.cat([gp.posterior(Xte[i:i + 2048]).mean.reshape(-1) for i in range(0, len(Xte), 2048)])


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    return {"kendall_tau": float(kendalltau(p, y)[0]), "spearman_rho": float(spearmanr(p, y)[0]),
            "pairwise_acc": pairwise_accuracy(y, p)}


def run(args: argparse.Namespace) -> dict:
    import torch

    from nago.nao import NAOModel, TokenCodec, graph_view
    from nago.objectives.table import load_table_space

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        sizes = [int(s) for s in str(args.train_sizes).split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 2:
        raise ConfigError(f"--train-sizes {args.train_sizes!r}: allowed: comma-separated integers >= 2")
    if args.seeds < 1 or args.steps < 1:
        raise ConfigError(f"--seeds {args.seeds} / --steps {args.steps}: allowed: integers >= 1")
    space, table = load_table_space(args.space)
    codec = TokenCodec(space=space)
    encoders = [e.strip() for e in str(args.encoders).split(",") if e.strip()]
    from nago.nao.encoders import ENCODERS

    bad = [e for e in encoders if e not in ENCODERS]
    if bad:
        raise ConfigError(f"--encoders: unknown {bad}; allowed: {', '.join(ENCODERS)}")
    if graph_view(space) is None and "gnn" in encoders:
        encoders.remove("gnn")  # no graph view: the gnn encoder does not apply
    configs, groups = universe(space, table)
    metric = table.search[0]
    y_all = np.array([table.metrics_of(table.row(c))[metric.name] for c in configs]) * (1 if metric.maximize else -1)
    T = codec.encode(configs)
    names = [f"nao-{e}{r}" for e in encoders for r in ("", "+rank")] + ["gp-onehot"]
    raw: dict[str, dict[int, list[dict]]] = {m: {n: [] for n in sizes} for m in names}
    for seed in range(args.seeds):
        for n in sizes:
            tr, te = split(groups, n, seed, args.test_size)
            ytr = torch.tensor(y_all[tr], dtype=torch.float32)[:, None]
            for e in encoders:
                for rank in (None, "hinge"):
                    t0 = time.perf_counter()
                    model = NAOModel(codec=codec, encoder=e, ranking=rank, steps=args.steps, seed=seed).fit(T[tr], ytr)
                    secs = time.perf_counter() - t0
                    p = model.predict(T[te])[:, 0].numpy()
                    rec = float((model.reconstruct(T[te]) == T[te]).all(dim=1).float().mean())
                    raw[f"nao-{e}{'+rank' if rank else ''}"][n].append({**scores(y_all[te], p), "reconstruction": rec,
                                                                        "fit_seconds": secs})
            t0 = time.perf_counter()
            p = gp_predict(codec.onehot(T[tr]), torch.tensor(y_all[tr]), codec.onehot(T[te])).numpy()
            raw["gp-onehot"][n].append({**scores(y_all[te], p), "reconstruction": None,
                                        "fit_seconds": time.perf_counter() - t0})
    models: dict[str, dict[str, Any]] = {}
    for m in names:
        out: dict[str, Any] = {"train_size": sizes}
        for k in METRICS:
            vals = [[r[k] for r in raw[m][n]] for n in sizes]
            none = any(v is None for vs in vals for v in vs)
            out[k] = [None if none else float(np.mean(v)) for v in vals]
            out[f"{k}_std"] = [None if none else float(np.std(v)) for v in vals]
        models[m] = out
    return {"space": str(args.space), "metric": metric.name, "distinct": int(len(np.unique(groups))),
            "seeds": args.seeds, "steps": args.steps, "test_size": args.test_size or "rest", "models": models}


def _cell(v: float | None, s: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f} ± {s:.{digits}f}"


def markdown(r: dict) -> str:
    lines = ["| model | train | Kendall tau | Spearman rho | pairwise acc | reconstruction | fit s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, m in r["models"].items():
        for i, n in enumerate(m["train_size"]):
            lines.append(f"| {name} | {n} | " + " | ".join(
                _cell(m[k][i], m[f"{k}_std"][i], 1 if k == "fit_seconds" else 3) for k in METRICS) + " |")
    return "\n".join(lines)


def format(r: dict) -> str:
    head = (f"surrogate quality on {r['space']} (target {r['metric']}, {r['distinct']} distinct architectures, "
            f"{r['seeds']} seed(s), test on {r['test_size']}, {r['steps']} Adam steps per NAO fit)")
    return head + "\n\n" + markdown(r)
