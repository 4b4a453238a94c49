"""Random graph models (Watts–Strogatz, Erdős–Rényi, Barabási–Albert, chain) turned into DAGs.

Every graph is sampled once, undirected, with networkx, then oriented from the lower node index to
the higher one (as in RandWire and NAGO), so index order is a topological order. A node's inputs
are its neighbours with a lower index; *input nodes* have none, *output nodes* have no neighbour
with a higher index. A single node is both.

Differences from the original NAGO code (``research/nago.md`` §3.1, §3.6), on purpose:

* **Connectivity repair, never a crash.** The original retried up to 30 seeds and crashed (or
  built an empty graph) when ER graphs with small P stayed disconnected. nago samples each graph
  once and, if it has several connected components, joins them into one: components are ordered by
  their smallest node id, and the largest node of each is joined to the smallest node of the next
  (``c - 1`` extra edges for ``c`` components). The sampled edges are all kept, so the graph stays
  as close to the model's distribution as a connected graph can; no seed is ever rejected.
* **K clipped to N−1** for WS (and M to N−1 for BA). networkx WS links each node to ``K // 2``
  neighbours on each side, so an odd K acts as K−1 (documented, not changed: the paper's spaces
  were searched with this behaviour).
* Graphs of one or two nodes are a single node and a single edge whatever the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import networkx as nx
import numpy as np

from nago.errors import ConfigError
from nago.registry import Registry

GRAPH_MODELS: Registry[Callable[..., nx.Graph]] = Registry("graph model")


@dataclass(frozen=True)
class DAG:
    """A DAG on nodes ``0..n-1`` whose edges go from lower to higher index.

    Attributes:
        preds: ``preds[i]`` is the sorted tuple of the inputs of node ``i`` (all ``< i``).
    """

    preds: tuple[tuple[int, ...], ...]

    @property
    def n(self) -> int:
        return len(self.preds)

    @property
    def inputs(self) -> tuple[int, ...]:
        """Nodes without predecessors (they receive the graph's input)."""
        return tuple(i for i, p in enumerate(self.preds) if not p)

    @property
    def outputs(self) -> tuple[int, ...]:
        """Nodes without successors, by id (their mean is the graph's output)."""
        has_succ = {j for p in self.preds for j in p}
        return tuple(i for i in range(self.n) if i not in has_succ)

    @property
    def num_edges(self) -> int:
        return sum(len(p) for p in self.preds)

    @classmethod
    def from_graph(cls, g: nx.Graph) -> "DAG":
        n = g.number_of_nodes()
        preds = [[] for _ in range(n)]
        for a, b in g.edges():
            lo, hi = (a, b) if a < b else (b, a)
            if lo != hi:
                preds[hi].append(lo)
        return cls(tuple(tuple(sorted(set(p))) for p in preds))


@GRAPH_MODELS.register("ws")
def _ws(n: int, *, k: int, p: float, seed: int, **_: object) -> nx.Graph:
    k = max(min(int(k), n - 1), 0)
    return nx.watts_strogatz_graph(n, k, p, seed=seed)


@GRAPH_MODELS.register("er")
def _er(n: int, *, p: float, seed: int, **_: object) -> nx.Graph:
    return nx.gnp_random_graph(n, p, seed=seed)


@GRAPH_MODELS.register("ba")
def _ba(n: int, *, m: int, seed: int, **_: object) -> nx.Graph:
    m = max(min(int(m), n - 1), 1)
    return nx.barabasi_albert_graph(n, m, seed=seed)


@GRAPH_MODELS.register("chain")
def _chain(n: int, **_: object) -> nx.Graph:
    return nx.path_graph(n)


def join_components(g: nx.Graph) -> nx.Graph:
    """Return ``g`` connected: consecutive components (ordered by smallest node id) are joined by
    an edge from the largest node of one to the smallest node of the next. ``g`` is not modified."""
    comps = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: c[0])
    if len(comps) <= 1:
        return g
    g = g.copy()
    for a, b in zip(comps, comps[1:]):
        g.add_edge(a[-1], b[0])
    return g


def sample_dag(
    model: str,
    n: int,
    *,
    rng: np.random.Generator,
    k: int = 4,
    p: float = 0.5,
    m: int = 2,
) -> DAG:
    """Sample one connected random graph and orient it into a :class:`DAG`.

    Args:
        model: a name in :data:`GRAPH_MODELS` (``"ws"``, ``"er"``, ``"ba"``, ``"chain"``).
        n: number of nodes (>= 1).
        rng: the source of randomness; exactly one integer is drawn from it per graph.
        k: WS neighbourhood size (clipped to ``n - 1``).
        p: WS rewiring or ER edge probability, in ``[0, 1]``.
        m: BA edges per new node (clipped to ``[1, n - 1]``).
    """
    build = GRAPH_MODELS.get(model)
    if int(n) < 1:
        raise ConfigError(f"graph size must be >= 1, got {n}")
    if not 0.0 <= float(p) <= 1.0:
        raise ConfigError(f"graph probability must be in [0, 1], got {p}")
    seed = int(rng.integers(2**31 - 1))
    n = int(n)
    if n <= 2:
        return DAG.from_graph(nx.path_graph(n))
    g = build(n, k=k, p=float(p), m=m, seed=seed)
    return DAG.from_graph(join_components(g))
