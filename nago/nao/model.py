"""The NAO encoder-predictor-decoder (Luo et al. NeurIPS 2018) with the ranking loss of TNAO / GATES.

``E`` (an encoder of :mod:`nago.nao.encoders`) maps tokens ``[n, L]`` to per-step states
``H [n, T, h]`` and the embedding ``e = mean_t H_t``; one MLP head per objective maps ``e`` to a
z-scored prediction; an attention LSTM decoder ``D`` rebuilds the tokens from ``(e, H)``: initial
state ``(e, e)``, Luong "general" attention over ``H``, logits restricted to the valid tokens of each
position (so decoding can only produce valid configs), greedy at inference.

Training loss (targets standardised per objective with the training mean and std; every objective
maximised):

    L = trade_off * (MSE + rank_weight * L_rank) + (1 - trade_off) * NLL(D(E(x)), x)

with ``trade_off = 0.8`` (NAO's value) and ``L_rank`` over all ordered pairs of a minibatch
(``y_i > y_j``): ``hinge`` = ``max(0, margin - (s_i - s_j))`` (GATES' ``margin_linear``) or
``logistic`` = ``log(1 + exp(-(s_i - s_j)))``; ``ranking=None`` leaves it out. Adam with weight decay,
gradient clipping at 5, ``steps`` minibatch updates. Everything (init, dropout, batch order) is seeded
by ``seed``; the global torch RNG is left as it was.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from nago.errors import ConfigError
from nago.nao.encoders import ENCODERS, make_encoder
from nago.nao.encoding import SOS, TokenCodec, graph_view

RANKINGS = ("hinge", "logistic")


class AttentionDecoder(nn.Module):
    """1-layer LSTM decoder with Luong attention over the encoder states, constrained per position.

    Args:
        mask: bool ``[L, V]``: the valid tokens of each position.
        hidden: state size ``h`` (the encoder's).
    """

    def __init__(self, *, mask: torch.Tensor, hidden: int) -> None:
        super().__init__()
        L, V = mask.shape
        self.length = L
        self.register_buffer("mask", mask)
        self.embed = nn.Embedding(V, hidden)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.attn_in = nn.Linear(hidden, hidden, bias=False)
        self.attn_out = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, V)

    def _step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], H: torch.Tensor, t: int):
        h, c = self.cell(self.embed(x), state)
        scores = torch.einsum("nh,nth->nt", self.attn_in(h), H)
        ctx = torch.einsum("nt,nth->nh", scores.softmax(dim=-1), H)
        logits = self.out(torch.tanh(self.attn_out(torch.cat([ctx, h], dim=-1))))
        return logits.masked_fill(~self.mask[t], -math.inf).log_softmax(dim=-1), (h, c)

    def forward(self, e: torch.Tensor, H: torch.Tensor, tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities ``[n, L, V]`` (``-inf`` at invalid tokens) and tokens ``[n, L]``.

        With ``tokens`` given the decoder is teacher-forced (input ``<sos>, x_1 .. x_{L-1}``) and returns
        them unchanged; without, it decodes greedily from its own outputs.
        """
        n = e.shape[0]
        x = torch.full((n,), SOS, dtype=torch.long, device=e.device)
        state, logps, out = (e, e), [], []
        for t in range(self.length):
            logp, state = self._step(x, state, H, t)
            y = tokens[:, t] if tokens is not None else logp.argmax(dim=-1)
            logps.append(logp)
            out.append(y)
            x = y
        return torch.stack(logps, dim=1), torch.stack(out, dim=1)


class _Net(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: AttentionDecoder, hidden: int, m: int, dropout: float) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                          nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))
            for _ in range(m)
        )

    def predict(self, e: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(e) for head in self.heads], dim=-1)


def rank_loss(s: torch.Tensor, y: torch.Tensor, *, kind: str, margin: float) -> torch.Tensor:
    """Mean pairwise ranking loss of scores ``s [b]`` against targets ``y [b]`` over pairs ``y_i > y_j``."""
    better = y[:, None] > y[None, :]
    if not better.any():
        return s.sum() * 0.0
    diff = (s[:, None] - s[None, :])[better]
    return F.relu(margin - diff).mean() if kind == "hinge" else F.softplus(-diff).mean()


class NAOModel:
    """Encoder, predictor heads and constrained decoder, trained jointly; see the module docstring.

    Args:
        codec: the token codec of the space.
        encoder: ``"lstm"`` (default), ``"transformer"`` or ``"gnn"`` (spaces with a graph view).
        objectives: number of predictor heads ``m``.
        hidden: state / embedding size ``h`` (a multiple of 4).
        trade_off: ``λ``, the weight of the prediction loss (reconstruction gets ``1 - λ``).
        ranking: ``"hinge"``, ``"logistic"`` or ``None`` (no ranking term).
        rank_weight: weight of the ranking term inside the prediction loss.
        margin: hinge margin (in standardised target units).
        dropout: dropout of the encoder input and the heads.
        steps: Adam updates of one :meth:`fit`.
        batch_size: minibatch size.
        lr, weight_decay: Adam settings.
        seed: seeds initialisation, dropout and batch order.

    Example:
        >>> model = NAOModel(codec=codec, ranking="hinge", seed=0).fit(tokens, y)   # [n, L], [n, 1]
        >>> model.predict(codec.encode(candidates))                                 # [k, 1]
    """

    def __init__(
        self,
        *,
        codec: TokenCodec,
        encoder: str = "lstm",
        objectives: int = 1,
        hidden: int = 64,
        trade_off: float = 0.8,
        ranking: str | None = "hinge",
        rank_weight: float = 1.0,
        margin: float = 0.1,
        dropout: float = 0.1,
        steps: int = 1000,
        batch_size: int = 100,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        seed: int = 0,
    ) -> None:
        if encoder not in ENCODERS:
            raise ConfigError(f"NAO model: encoder got {encoder!r}; allowed: {', '.join(ENCODERS)}")
        if ranking is not None and ranking not in RANKINGS:
            raise ConfigError(f"NAO model: ranking got {ranking!r}; allowed: {', '.join(RANKINGS)} or none")
        if not (isinstance(hidden, int) and hidden >= 4 and hidden % 4 == 0):
            raise ConfigError(f"NAO model: hidden got {hidden!r}; allowed: a positive multiple of 4")
        if not 0.0 <= trade_off <= 1.0:
            raise ConfigError(f"NAO model: trade_off got {trade_off!r}; allowed: a number in [0, 1]")
        self.codec, self.encoder_name, self.m, self.hidden = codec, encoder, int(objectives), hidden
        self.trade_off, self.ranking, self.rank_weight, self.margin = trade_off, ranking, rank_weight, margin
        self.dropout, self.steps, self.batch_size, self.lr, self.weight_decay = dropout, steps, batch_size, lr, weight_decay
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            enc = make_encoder(encoder, codec=codec, graph=graph_view(codec.space), hidden=hidden, dropout=dropout)
            self.net = _Net(enc, AttentionDecoder(mask=codec.mask(), hidden=hidden), hidden, self.m, dropout)
        self.mean = torch.zeros(self.m)
        self.std = torch.ones(self.m)
        self.z_range = torch.stack([torch.full((self.m,), -1.0), torch.ones(self.m)])
        self.fitted = False

    # -- training ---------------------------------------------------------------------------------
    def fit(self, tokens: torch.Tensor, y: torch.Tensor) -> "NAOModel":
        """Train on tokens ``[n, L]`` and targets ``[n, m]`` (maximised; finite) from the current weights."""
        y = torch.as_tensor(y, dtype=torch.float32).reshape(len(tokens), self.m)
        if len(tokens) < 2 or not torch.isfinite(y).all():
            raise ValueError(f"NAO model: fit needs >= 2 rows with finite targets (got {len(tokens)})")
        self.mean, self.std = y.mean(dim=0), y.std(dim=0).clamp(min=1e-8)
        z = (y - self.mean) / self.std
        self.z_range = torch.stack([z.amin(dim=0), z.amax(dim=0)])
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        gen = torch.Generator().manual_seed(self.seed + 1)
        n, b = len(tokens), min(self.batch_size, len(tokens))
        order, pos = torch.randperm(n, generator=gen), 0
        self.net.train()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 2)
            for _ in range(self.steps):
                if pos + b > n:
                    order, pos = torch.randperm(n, generator=gen), 0
                idx = order[pos:pos + b]
                pos += b
                loss = self._loss(tokens[idx], z[idx])
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
                opt.step()
        self.net.eval()
        self.fitted = True
        return self

    def _loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        H, e = self.net.encoder(x)
        pred = self.net.predict(e)
        pred_loss = F.mse_loss(pred, z)
        if self.ranking is not None and self.rank_weight > 0:
            for j in range(self.m):
                pred_loss = pred_loss + self.rank_weight * rank_loss(pred[:, j], z[:, j], kind=self.ranking,
                                                                     margin=self.margin) / self.m
        logp, _ = self.net.decoder(e, H, x)
        nll = F.nll_loss(logp.reshape(-1, logp.shape[-1]), x.reshape(-1))
        return self.trade_off * pred_loss + (1 - self.trade_off) * nll

    # -- inference --------------------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-step states ``H [n, T, h]`` and embeddings ``e [n, h]`` (differentiable)."""
        return self.net.encoder(tokens)

    def predict_states(self, H: torch.Tensor) -> torch.Tensor:
        """Standardised predictions ``[n, m]`` from states ``H [n, T, h]`` (``e = mean_t H_t``; differentiable)."""
        return self.net.predict(H.mean(dim=1))

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, *, standardized: bool = False) -> torch.Tensor:
        """Predicted objectives ``[n, m]`` (maximisation sense): raw units, or z-scores if ``standardized``."""
        z = self.net.predict(self.net.encoder(tokens)[1])
        return z if standardized else z * self.std + self.mean

    @torch.no_grad()
    def decode(self, H: torch.Tensor) -> torch.Tensor:
        """Greedy constrained decoding of states ``H [n, T, h]`` -> tokens ``[n, L]`` (always valid)."""
        return self.net.decoder(H.mean(dim=1), H)[1]

    @torch.no_grad()
    def reconstruct(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens ``[n, L]`` -> encode -> greedy decode -> tokens ``[n, L]``."""
        return self.decode(self.net.encoder(tokens)[0])
