"""Everything nago knows about the NAS-Bench-201 cell, as pure data (no torch: strategies import it).

The cell (Dong & Yang, ICLR 2020) is a DAG of four nodes, 0 (input) to 3 (output). Each of its six
edges ``e0..e5`` carries one op from :data:`OPS`; node ``j`` sums its incoming edges. The edges, in
the order of NB201's architecture string ``|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|``, as ``(from, to)``:

====  ======
edge  from→to
====  ======
e0    0 → 1
e1    0 → 2
e2    1 → 2
e3    0 → 3
e4    1 → 3
e5    2 → 3
====  ======

This module holds that edge list (:data:`EDGES`, the only one in nago), the arch-string codec, the rule
that says a search space *is* an NB201 cell space (:func:`cell_choices`, :func:`is_nb201_space`), the
op-on-node view used by graph encoders (:data:`OP_NODE_EDGES`) and the path features of
:func:`path_features`. The NB201 network itself (torch), its parameter and FLOP counts and the
derivation of nago's NB201 table are in :mod:`nago.benchmarks.nb201_net`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Sequence

from nago.errors import ConfigError

if TYPE_CHECKING:
    from nago.config.space import SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4  # node 0 is the cell input, node 3 its output
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # e0..e5 as (from node, to node), arch-string order
EDGE_NAMES = tuple(f"e{k}" for k in range(len(EDGES)))  # the parameter names of an NB201 space
SPACE_RULE = (f"{len(EDGES)} categorical parameters {', '.join(EDGE_NAMES)} (the edges "
              f"{', '.join(f'{a}->{b}' for a, b in EDGES)}), in that order, with the same choices")
"""What :func:`cell_choices` asks of a space, for error messages."""


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
    if len(ops) != len(EDGES):
        raise ConfigError(f"NB201 architecture {arch!r}: expected {len(EDGES)} edges, got {len(ops)}")
    return ops


def arch_string(ops: Sequence[str]) -> str:
    """Inverse of :func:`parse_arch`: the NB201 string of six edge ops in ``EDGES`` order."""
    by_edge = dict(zip(EDGES, ops))
    return "+".join("|" + "|".join(f"{by_edge[(j, i)]}~{j}" for j in range(i)) + "|" for i in range(1, NUM_NODES))


# -- which spaces are NB201 cell spaces -------------------------------------------------------------
def cell_choices(space: SearchSpace) -> tuple[str, ...] | None:
    """The op choices of a space shaped like the NB201 cell, or ``None``.

    The one rule: the space's searchable parameters are exactly :data:`EDGE_NAMES` (``e0..e5``, in
    that order, i.e. the edges of :data:`EDGES`), all categorical with the same choices. The choices
    may be any op set (a graph encoder only needs the cell's shape); :func:`is_nb201_space` also asks
    for NB201's own ops.
    """
    ps = space.searchable
    if tuple(p.name for p in ps) != EDGE_NAMES or any(p.type != "categorical" for p in ps):
        return None
    choices = {tuple(str(c) for c in p.choices) for p in ps}
    return choices.pop() if len(choices) == 1 else None


def is_nb201_space(space: SearchSpace) -> bool:
    """True if ``space`` is an NB201 cell space: :func:`cell_choices` holds and the choices are :data:`OPS`."""
    return cell_choices(space) == OPS


# -- the op-on-node view --------------------------------------------------------------------------------
def _op_node_edges() -> tuple[tuple[int, int], ...]:
    out = len(EDGES) + 1
    adj = []
    for k, (src, dst) in enumerate(EDGES):
        if src == 0:
            adj.append((0, k + 1))
        adj.extend((k2 + 1, k + 1) for k2, (_, dst2) in enumerate(EDGES) if dst2 == src)
        if dst == NUM_NODES - 1:
            adj.append((k + 1, out))
    return tuple(sorted(adj))


OP_NODE_EDGES = _op_node_edges()
"""The cell as an op-on-node DAG (NASLib / SemiNAS): node 0 = cell input, node ``k + 1`` = the op of
edge ``e_k``, node 7 = cell output; an op node reads the op nodes of the edges ending where its edge
starts. ``(i, j)`` pairs, ``i < j``."""


# -- path features ----------------------------------------------------------------------------------
def _input_output_paths() -> tuple[tuple[int, ...], ...]:
    """Every input -> output path of the cell, as edge indices into :data:`EDGES`."""
    paths: list[tuple[int, ...]] = []

    def walk(node: int, path: tuple[int, ...]) -> None:
        if node == NUM_NODES - 1:
            paths.append(path)
            return
        for k, (src, dst) in enumerate(EDGES):
            if src == node:
                walk(dst, (*path, k))

    walk(0, ())
    return tuple(sorted(paths, key=lambda p: (len(p), p)))


PATHS = _input_output_paths()  # ((3,), (0, 4), (1, 5), (0, 2, 5))
_PATH_OPS = ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # what is left of a path once skips are contracted
PATH_SEQUENCES = tuple(s for n in range(4) for s in itertools.product(_PATH_OPS, repeat=n))  # 1 + 3 + 9 + 27 = 40
_PATH_INDEX = {seq: i for i, seq in enumerate(PATH_SEQUENCES)}


def path_features(ops: Sequence[str]) -> list[int]:
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
