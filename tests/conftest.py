"""Test-session environment, set before any test module imports torch."""

import os

import pytest

# Passive OpenMP waiting, as the `gsmoothface` command sets it (see stages/cli.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Model hubs are unreachable: a hub id must fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests on one torch thread (small models and batched ops are latency-bound)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
