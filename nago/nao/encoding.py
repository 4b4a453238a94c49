"""Token sequences and graph views of configs: what the NAO encoders read and the decoder writes.

A :class:`TokenCodec` turns a config of any :class:`~nago.config.space.SearchSpace` into a fixed-length
sequence of integer tokens, one position per searchable parameter (fixed parameters are skipped):

- a categorical gives one token per choice;
- an int gives one token per level when it has at most ``bins`` levels, else ``bins`` tokens;
- a float is discretised into ``bins`` equal bins *of the unit cube* (so a log-scale float gets
  log-spaced bins); a token decodes to its bin centre.

Token ids are global (one shared vocabulary); token 0 is ``<sos>``, never emitted at a position. Each
position owns a contiguous block of ids, so :meth:`TokenCodec.mask` (``[L, V]``) lets a decoder choose
only among the valid tokens of each position. Categoricals and small ints round-trip exactly;
floats (and ints with more than ``bins`` levels) round-trip to their bin centre.

The graph view (:class:`CellGraph`) of a NAS-Bench-201 cell uses the standard conversion to an
op-on-node DAG (as NASLib / SemiNAS do; :data:`nago.benchmarks.nb201.OP_NODE_EDGES`): node 0 = the
cell input, nodes 1..6 = the six edge ops e0..e5 (the edges of :data:`nago.benchmarks.nb201.EDGES`),
node 7 = the cell output. The adjacency is the same for every cell; only the node features (one-hot
op) change. Which spaces have a graph view is decided by :func:`nago.benchmarks.nb201.cell_choices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from nago.benchmarks import nb201
from nago.errors import ConfigError
from nago.config.param import Param
from nago.config.space import SearchSpace

SOS = 0


class TokenCodec:
    """Configs of a space <-> token sequences ``[n, L]`` (``L`` = number of searchable parameters).

    Args:
        space: the search space (at least one searchable parameter).
        bins: tokens per float (and per int with more than ``bins`` levels), ``>= 2``.

    Example:
        >>> codec = TokenCodec(space=SearchSpace.from_toml("spaces/nb201.toml"))
        >>> tokens = codec.encode([config])        # LongTensor [1, 6]
        >>> codec.decode(tokens)[0] == config
        True
    """

    def __init__(self, *, space: SearchSpace, bins: int = 16) -> None:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
            raise ConfigError(f"token codec: bins got {bins!r}; allowed: an integer >= 2")
        if space.dim == 0:
            raise ConfigError(f"token codec: space {space.name!r} has no searchable parameter; allowed: at least one")
        self.space = space
        self.bins = int(bins)
        self.params: tuple[Param, ...] = space.searchable
        self.sizes: tuple[int, ...] = tuple(self._size(p) for p in self.params)
        offsets = np.cumsum([1, *self.sizes])
        self.offsets: tuple[int, ...] = tuple(int(o) for o in offsets[:-1])
        self.vocab_size = int(offsets[-1])
        self.length = len(self.params)

    def _size(self, p: Param) -> int:
        if p.type == "categorical":
            return len(p.choices)
        if p.type == "int":
            return min(p.levels, self.bins)
        return self.bins

    def _exact(self, p: Param) -> bool:
        return p.type == "categorical" or (p.type == "int" and p.levels <= self.bins)

    # -- configs <-> tokens ----------------------------------------------------------------------
    def local(self, config: Mapping[str, Any]) -> list[int]:
        """Per-position token index (``0 .. size-1``) of one config."""
        c = self.space.validate(config, partial=True)
        out = []
        for p, k in zip(self.params, self.sizes):
            if p.type == "categorical":
                out.append(p.choices.index(c[p.name]))
            elif self._exact(p):
                out.append(int(c[p.name]) - int(p.low))
            else:
                u = p.to_unit(c[p.name]) if p.type == "float" else (int(c[p.name]) - int(p.low) + 0.5) / p.levels
                out.append(min(int(u * k), k - 1))
        return out

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> torch.Tensor:
        """Global token ids ``[n, L]`` (int64) of ``configs``."""
        rows = [[o + i for o, i in zip(self.offsets, self.local(c))] for c in configs]
        return torch.tensor(rows, dtype=torch.long).reshape(len(rows), self.length)

    def decode(self, tokens: torch.Tensor | np.ndarray) -> list[dict[str, Any]]:
        """Complete configs from tokens ``[n, L]``; :class:`ConfigError` on a token invalid at its position."""
        T = np.asarray(tokens.detach().cpu() if hasattr(tokens, "detach") else tokens, dtype=np.int64)
        T = T.reshape(-1, self.length)
        local = T - np.asarray(self.offsets)
        if ((local < 0) | (local >= np.asarray(self.sizes))).any():
            bad = np.argwhere((local < 0) | (local >= np.asarray(self.sizes)))[0]
            raise ConfigError(f"token codec: token {int(T[tuple(bad)])} is invalid at position {int(bad[1])} "
                              f"({self.params[bad[1]].name}); allowed: {self.offsets[bad[1]]}.."
                              f"{self.offsets[bad[1]] + self.sizes[bad[1]] - 1}")
        configs = []
        for row in local:
            c: dict[str, Any] = {}
            for p, k, i in zip(self.params, self.sizes, row):
                if p.type == "categorical":
                    c[p.name] = p.choices[int(i)]
                elif self._exact(p):
                    c[p.name] = int(p.low) + int(i)
                else:
                    c[p.name] = p.from_unit((int(i) + 0.5) / k)
            configs.append(self.space.validate(c))
        return configs

    def mask(self) -> torch.Tensor:
        """Valid tokens per position: bool ``[L, V]`` (``<sos>`` is never valid)."""
        m = torch.zeros(self.length, self.vocab_size, dtype=torch.bool)
        for j, (o, k) in enumerate(zip(self.offsets, self.sizes)):
            m[j, o:o + k] = True
        return m

    def onehot(self, tokens: torch.Tensor) -> torch.Tensor:
        """One-hot float64 ``[n, V - 1]`` of tokens ``[n, L]`` (the GP reference's input)."""
        x = torch.zeros(tokens.shape[0], self.vocab_size, dtype=torch.float64)
        x.scatter_(1, tokens, 1.0)
        return x[:, 1:]


@dataclass(frozen=True)
class CellGraph:
    """A DAG with a fixed adjacency whose node features come from the token sequence.

    Attributes:
        adjacency: bool ``[N, N]``, ``adjacency[i, j]`` = edge ``i -> j`` (``i < j``: topological order).
        positions: per node, the token position that sets its op, or ``-1`` for the input/output node.
        kinds: per node, ``"input" | "output" | "op"``.
        ops: the op names (one-hot order of the op part of the features).
    """

    adjacency: torch.Tensor
    positions: tuple[int, ...]
    kinds: tuple[str, ...]
    ops: tuple[str, ...]

    @property
    def num_nodes(self) -> int:
        return len(self.positions)

    @property
    def feature_dim(self) -> int:
        return 2 + len(self.ops)

    def features(self, local: torch.Tensor) -> torch.Tensor:
        """One-hot node features ``[n, N, 2 + n_ops]`` (input, output, op...) from per-position token
        indices ``local`` ``[n, L]`` (``0 .. n_ops-1``)."""
        n = local.shape[0]
        x = torch.zeros(n, self.num_nodes, self.feature_dim)
        for v, (pos, kind) in enumerate(zip(self.positions, self.kinds)):
            if kind == "input":
                x[:, v, 0] = 1.0
            elif kind == "output":
                x[:, v, 1] = 1.0
            else:
                x[torch.arange(n), v, 2 + local[:, pos]] = 1.0
        return x


def nb201_graph(ops: Sequence[str]) -> CellGraph:
    """The op-on-node DAG of the NAS-Bench-201 cell (8 nodes; see the module docstring)."""
    e = len(nb201.EDGES)
    adj = torch.zeros(e + 2, e + 2, dtype=torch.bool)
    for i, j in nb201.OP_NODE_EDGES:
        adj[i, j] = True
    return CellGraph(adj, (-1, *range(e), -1), ("input",) + ("op",) * e + ("output",), tuple(ops))


def graph_view(space: SearchSpace) -> CellGraph | None:
    """The graph view of a space's configs, or ``None`` when it has none.

    A space has one when it is shaped like the NB201 cell (:func:`nago.benchmarks.nb201.cell_choices`:
    six categoricals ``e0..e5`` with the same choices, any op set; e.g. ``spaces/nb201.toml``).
    """
    choices = nb201.cell_choices(space)
    return None if choices is None else nb201_graph(choices)


def nb201_dag(ops: Sequence[str], choices: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Adjacency ``[8, 8]`` (float) and one-hot node features ``[8, 2 + len(choices)]`` of one cell
    given its six edge ops (in e0..e5 order)."""
    g = nb201_graph(choices)
    local = torch.tensor([[list(choices).index(o) for o in ops]])
    return g.adjacency.float(), g.features(local)[0]

