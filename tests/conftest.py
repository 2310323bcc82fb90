"""Test-session environment, set before any test module imports torch."""

import os

import pytest

from gsmoothface.cpu_kernels import LEVELS

# Passive OpenMP waiting, as the `gsmoothface` command sets it (see stages/cli.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Model hubs are unreachable: a hub id must fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# The CPU kernels the stages pin by default (base.cpu_kernels: avx2), for stages run in-process.
os.environ.update(LEVELS["avx2"])


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests on one torch thread (small models and batched ops are latency-bound)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_wav2vec2(tmp_path_factory):
    """A small random wav2vec2 written with ``save_pretrained``: the real loading path, tiny sizes."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    folder = tmp_path_factory.mktemp("wav2vec2")
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32, 32, 32, 32, 32, 32, 32),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )
    Wav2Vec2Model(config).save_pretrained(folder)
    return folder
