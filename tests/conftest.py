from __future__ import annotations

import pytest
import torch

# Tiny test networks run fastest on one thread, and OpenMP spin-waiting makes two threads crawl
# when the test run shares its cores (CI: 2 cores).
torch.set_num_threads(1)


@pytest.fixture
def paper_config() -> dict:
    """The worked example of research/nago.md §3.7 (the paper's CIFAR-10 BOHB optimum)."""
    return dict(N_t=8, K_t=5, P_t=0.6, N_m=1, P_m=0.7, N_b=5, K_b=4, P_b=0.2)
