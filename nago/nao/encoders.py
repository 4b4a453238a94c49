"""NAO encoders: token sequences ``[n, L]`` -> per-step states ``H [n, T, h]`` and an embedding ``[n, h]``.

Every encoder returns the per-step (per-node for the GNN) states ``H``, each normalised with a
LayerNorm, and the architecture embedding ``e = mean_t H_t``. ``H`` is both the decoder's attention
memory and what the NAO gradient search moves (Luo et al. 2018; NAO L2-normalises the steps, we use a
LayerNorm per step, which keeps the scale fixed while the predictor can still read magnitudes):

- ``lstm`` (default): token embedding -> 1-layer LSTM -> LayerNorm per step (NAO / SemiNAS).
- ``transformer``: token + learned position embedding -> ``layers`` Transformer encoder layers
  (4 heads, FFN ``2h``) -> LayerNorm (the TNAO idea; sizes from research/nao_family.md §4.3).
- ``gnn``: D-VAE / NGAE-style asynchronous message passing over the op-on-node DAG of a
  :class:`~nago.nao.encoding.CellGraph`: nodes in topological order, ``h_v = GRU(x_v, sum_u
  gate(h_u) * map(h_u))`` over the predecessors ``u``, then a reverse pass; only for spaces with a
  graph view.
"""

from __future__ import annotations

import torch
from torch import nn

from nago.errors import ConfigError
from nago.nao.encoding import CellGraph, TokenCodec

ENCODERS = ("lstm", "transformer", "gnn")


class LSTMEncoder(nn.Module):
    """Embedding -> LSTM -> per-step LayerNorm. Input ``[n, L]`` tokens, output ``([n, L, h], [n, h])``."""

    def __init__(self, *, vocab_size: int, length: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden)
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(hidden, hidden, batch_first=True)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        H, _ = self.rnn(self.drop(self.embed(tokens)))
        H = self.norm(H)
        return H, H.mean(dim=1)


class TransformerEncoder(nn.Module):
    """Token + position embeddings -> Transformer encoder -> LayerNorm; ``([n, L, h], [n, h])``."""

    def __init__(self, *, vocab_size: int, length: int, hidden: int, dropout: float, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden)
        self.pos = nn.Parameter(torch.randn(length, hidden) * 0.02)
        layer = nn.TransformerEncoderLayer(hidden, nhead=4, dim_feedforward=2 * hidden, dropout=dropout,
                                           batch_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        H = self.norm(self.body(self.embed(tokens) + self.pos))
        return H, H.mean(dim=1)


class GNNEncoder(nn.Module):
    """Asynchronous GRU message passing over a fixed DAG; output ``([n, N, h], [n, h])`` (``N`` nodes).

    Args:
        graph: the cell graph (fixed adjacency; node features from the tokens).
        offsets: the codec's per-position token offsets (global id -> per-position index).
        hidden: state size ``h``.
    """

    def __init__(self, *, graph: CellGraph, offsets: tuple[int, ...], hidden: int, dropout: float) -> None:
        super().__init__()
        self.graph = graph
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long))
        self.register_buffer("adj", graph.adjacency.float())
        self.inp = nn.Linear(graph.feature_dim, hidden)
        self.fwd = nn.GRUCell(hidden, hidden)
        self.bwd = nn.GRUCell(hidden, hidden)
        self.gate = nn.Sequential(nn.Linear(hidden, hidden), nn.Sigmoid())
        self.map = nn.Linear(hidden, hidden, bias=False)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)

    def _pass(self, x: torch.Tensor, cell: nn.GRUCell, order: list[int], adj: torch.Tensor) -> torch.Tensor:
        n, N, h = x.shape
        states: list[torch.Tensor | None] = [None] * N
        for v in order:
            preds = [u for u in range(N) if adj[u, v] > 0]
            if preds:
                hu = torch.stack([states[u] for u in preds], dim=1)  # [n, p, h]
                msg = (self.gate(hu) * self.map(hu)).sum(dim=1)
            else:
                msg = torch.zeros(n, h, dtype=x.dtype, device=x.device)
            states[v] = cell(x[:, v], msg)
        return torch.stack(states, dim=1)  # type: ignore[arg-type]

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        local = tokens - self.offsets
        x = self.drop(self.inp(self.graph.features(local).to(self.inp.weight.dtype)))
        N = self.graph.num_nodes
        hf = self._pass(x, self.fwd, list(range(N)), self.adj)
        hb = self._pass(x, self.bwd, list(reversed(range(N))), self.adj.T)
        H = self.norm(self.out(torch.cat([hf, hb], dim=-1)))
        return H, H.mean(dim=1)


def make_encoder(name: str, *, codec: TokenCodec, graph: CellGraph | None, hidden: int, dropout: float) -> nn.Module:
    """Build the encoder ``name`` (one of :data:`ENCODERS`); :class:`ConfigError` otherwise or when
    ``gnn`` is asked for a space without a graph view."""
    if name == "lstm":
        return LSTMEncoder(vocab_size=codec.vocab_size, length=codec.length, hidden=hidden, dropout=dropout)
    if name == "transformer":
        return TransformerEncoder(vocab_size=codec.vocab_size, length=codec.length, hidden=hidden, dropout=dropout)
    if name == "gnn":
        if graph is None:
            raise ConfigError(f"NAO encoder 'gnn' needs a graph view of the space {codec.space.name!r} "
                              "(NB201-style cells: six categoricals e0..e5 with the same ops); "
                              "allowed for this space: lstm, transformer")
        return GNNEncoder(graph=graph, offsets=codec.offsets, hidden=hidden, dropout=dropout)
    raise ConfigError(f"NAO encoder got {name!r}; allowed: {', '.join(ENCODERS)}")
