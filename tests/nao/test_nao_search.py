"""Search in the embedding: novel, valid, predictor-ranked candidates; scalarisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nago.errors import ConfigError
from nago.nao import NAOModel, TokenCodec
from nago.nao.search import gradient_ascent, random_weights, scalarize, swarm_search
from nago.config.space import SearchSpace

SPACE = SearchSpace.from_dict({"params": {f"e{i}": {"type": "categorical", "choices": list("abcd")} for i in range(4)}})


@pytest.fixture(scope="module")
def fitted():
    codec = TokenCodec(space=SPACE)
    configs = SPACE.sample(0, 60)
    tokens = codec.encode(configs)
    local = tokens - torch.tensor(codec.offsets)
    y = torch.stack([(local == 3).sum(dim=1).float(), -(local == 0).sum(dim=1).float()], dim=1)  # two objectives
    return codec, configs, tokens, NAOModel(codec=codec, objectives=2, hidden=16, steps=200, seed=0).fit(tokens, y)


@pytest.mark.parametrize("method", ["gradient", "swarm"])
def test_returns_novel_valid_configs_ranked_by_the_predictor(fitted, method):
    codec, configs, tokens, model = fitted
    exclude = {SPACE.key(c) for c in configs}
    w = torch.tensor([0.5, 0.5])
    if method == "gradient":
        found = gradient_ascent(model, tokens[:20], n=5, exclude=exclude, weights=w, step=0.1, max_steps=30)
    else:
        found = swarm_search(model, tokens[:20], n=5, exclude=exclude, weights=w, rng=np.random.default_rng(0),
                             population=20, generations=10)
    assert 1 <= len(found) <= 5
    keys = [SPACE.key(c.config) for c in found]
    assert len(set(keys)) == len(keys) and not set(keys) & exclude
    assert all(SPACE.validate(c.config) == c.config for c in found)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    z = model.predict(torch.tensor([c.tokens for c in found]), standardized=True)
    assert torch.allclose(scalarize(z, w, z_range=model.z_range), torch.tensor([c.score for c in found]), atol=1e-5)


def test_exhausted_neighbourhood_returns_nothing(fitted):
    codec, _, tokens, model = fitted
    everything = {SPACE.key(c) for c in codec.decode(torch.cartesian_prod(*[torch.arange(o, o + 4) for o in codec.offsets]))}
    assert gradient_ascent(model, tokens[:5], n=3, exclude=everything, weights=torch.tensor([1.0, 0.0]), max_steps=3) == []


def test_scalarize_and_weights():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    w = torch.tensor([0.5, 0.5])
    assert torch.allclose(scalarize(z, w, kind="linear"), torch.tensor([0.5, 0.5, 0.5]))
    cheb = scalarize(z, w, kind="chebyshev")
    assert cheb[2] > cheb[0] and cheb[0] == cheb[1]  # Chebyshev prefers the balanced point
    assert torch.equal(scalarize(z[:, :1], torch.ones(1)), z[:, 0])
    with pytest.raises(ConfigError, match="chebyshev, linear"):
        scalarize(z, w, kind="max")
    rw = random_weights(3, np.random.default_rng(0))
    assert rw.shape == (3,) and (rw >= 0).all() and float(rw.sum()) == pytest.approx(1.0)
