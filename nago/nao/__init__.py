"""NAO-style learned embeddings: token/graph encodings, encoder-predictor-decoder, search in the embedding.

``encoding`` (configs <-> tokens, graph views), ``encoders`` (lstm, transformer, gnn), ``model``
(:class:`NAOModel`), ``search`` (NAO gradient ascent, competitive swarm). The strategies ``nao`` and
``nao-cso`` live in :mod:`nago.strategies.nao`; ``nago bench surrogate`` measures the predictor.
"""

from nago.nao.encoding import CellGraph, TokenCodec, graph_view, nb201_dag
from nago.nao.model import NAOModel

__all__ = ["CellGraph", "NAOModel", "TokenCodec", "graph_view", "nb201_dag"]
