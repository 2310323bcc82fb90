"""A2EP network: the released code's quirks in faithful mode, causality and KV caching in fixed mode."""

import dataclasses

import pytest
import torch
from torch import nn

from gsmoothface.a2ep.config import A2EPConfig
from gsmoothface.a2ep.model import A2EP, DecoderLayer, alibi_bias, alibi_slopes, tiny_encoder_config

# small batched ops are latency-bound: one torch thread, as the stages run them
pytestmark = pytest.mark.usefixtures("one_torch_thread")


CFG = A2EPConfig(d_model=32, ffn_dim=64, encoder_hidden=32, encoder_ffn=64, encoder_layers=1)


def make(faithful: bool, n_speakers: int = 3, seed: int = 0) -> A2EP:
    torch.manual_seed(seed)
    cfg = dataclasses.replace(CFG, faithful=faithful)
    model = A2EP(cfg, tiny_encoder_config(20, cfg), n_speakers)
    nn.init.normal_(model.vertice_map_r.weight, std=0.05)  # trained-like, non-zero outputs
    return model.eval()


def test_alibi_matches_faceformer():
    assert alibi_slopes(4) == [0.25, 0.0625, 0.015625, 0.00390625]
    bias = alibi_bias(4, 60, 60, 25)
    assert torch.isinf(bias[:, 3, 4]).all() and bias[0, 4, 3] == 0
    # -slope * floor((i - j) / 25) on and below the diagonal
    assert bias[0, 59, 0] == -0.25 * 2 and bias[1, 30, 4] == -0.0625 * 1 and bias[3, 24, 0] == 0
    # a row of a longer sequence equals the offset row: no 600-frame limit
    assert torch.equal(alibi_bias(4, 1, 700, 25, offset=699)[:, 0], alibi_bias(4, 700, 700, 25)[:, 699])


def test_output_layer_is_zero_initialised_and_speakers_any_number():
    cfg = dataclasses.replace(CFG, faithful=False)
    model = A2EP(cfg, tiny_encoder_config(20, cfg), 7).eval()
    out = model.predict(torch.randn(2, 10, 20), torch.eye(7)[:2])
    assert out.shape == (2, 10, 64) and torch.count_nonzero(out) == 0
    assert model.obj_vector.weight.shape == (cfg.d_model, 7)


def test_faithful_positional_encoding_is_one_constant_vector():
    tokens = torch.zeros(2, 6, CFG.d_model)
    faithful = make(True).ppe(tokens)
    expected = torch.zeros(CFG.d_model)
    expected[1::2] = 1.0  # pe[0] = [sin 0, cos 0, ...] = [0, 1, 0, 1, ...]
    assert torch.equal(faithful, expected.expand_as(faithful))
    fixed = make(False).ppe(torch.zeros(2, 60, CFG.d_model))
    assert not torch.allclose(fixed[:, 0], fixed[:, 1])  # a real, position-dependent code
    # FaceFormer's periodic encoding: codes repeat with the period, so any length stays in range
    assert torch.equal(fixed[:, :25], fixed[:, 25:50]) and torch.equal(fixed[:, 3], fixed[:, 53])
    assert len({tuple(code.tolist()) for code in fixed[0, :25]}) == 25


def test_decoder_layer_equals_torch_layer_with_released_masks():
    """The layer reproduces nn.TransformerDecoderLayer under the ALiBi mask and the diagonal memory mask."""
    torch.manual_seed(1)
    d, heads, t = 32, 4, 30
    ref = nn.TransformerDecoderLayer(d, heads, 64, batch_first=True).eval()
    ours = DecoderLayer(d, heads, 64, 0.1).eval()
    with torch.no_grad():
        ours.qkv.weight.copy_(ref.self_attn.in_proj_weight)
        ours.qkv.bias.copy_(ref.self_attn.in_proj_bias)
        ours.self_out.load_state_dict(ref.self_attn.out_proj.state_dict())
        ours.cross_value.weight.copy_(ref.multihead_attn.in_proj_weight[2 * d :])
        ours.cross_value.bias.copy_(ref.multihead_attn.in_proj_bias[2 * d :])
        ours.cross_out.load_state_dict(ref.multihead_attn.out_proj.state_dict())
        for name in ("linear1", "linear2", "norm1", "norm2", "norm3"):
            getattr(ours, name).load_state_dict(getattr(ref, name).state_dict())
    x, memory = torch.randn(1, t, d), torch.randn(1, t, d)
    bias = alibi_bias(heads, t, t, 25)
    diagonal = ~torch.eye(t, dtype=torch.bool)  # released enc_dec_mask: True = blocked
    expected = ref(x, memory, tgt_mask=bias, memory_mask=diagonal)
    assert torch.allclose(ours(x, memory, bias), expected, atol=1e-5)
    assert torch.allclose(ours(x, memory, None), ref(x, memory, memory_mask=diagonal), atol=1e-5)


def test_faithful_training_is_unmasked_fixed_training_is_causal():
    feats, spk = torch.randn(1, 12, 20), torch.eye(3)[:1]
    changed = feats.clone()
    changed[:, 5] = torch.randn(20)  # only the audio of frame 5 changes
    exp = torch.randn(1, 12, 64)
    for faithful in (True, False):
        model = make(faithful)
        model.cfg = dataclasses.replace(model.cfg, mask_time_prob=0.0)
        with torch.no_grad():
            # the encoder is bidirectional in both modes; decouple it to look at the decoder alone
            memory, changed_memory = model.memory(feats), model.memory(changed)
            changed_memory[:, :5] = memory[:, :5]
            changed_memory[:, 6:] = memory[:, 6:]
            style = model.style(spk)
            if faithful:
                a = model.decode_autoregressive(memory, style, masked=False)
                b = model.decode_autoregressive(changed_memory, style, masked=False)
            else:
                a = model.decode_teacher_forced(memory, style, exp)
                b = model.decode_teacher_forced(changed_memory, style, exp)
        first_changes = (a[:, 0] - b[:, 0]).abs().max().item()
        if faithful:  # released training: frame 0 attends to tokens generated after it
            assert first_changes > 1e-4
        else:
            assert first_changes < 1e-6
        assert (a[:, 5] - b[:, 5]).abs().max() > 1e-4


def test_faithful_training_returns_last_pass_of_the_loop():
    """Faithful training output = the released loop: every output of the final unmasked pass."""
    model = make(True)
    with torch.no_grad():
        memory, style = model.memory(torch.randn(1, 8, 20)), model.style(torch.eye(3)[:1])
        tokens = style
        for i in range(8):
            out = model._decode(tokens, memory[:, : i + 1], None)
            tokens = torch.cat([tokens, model.vertice_map(out[:, -1:]) + style], dim=1)
        assert torch.equal(model.decode_autoregressive(memory, style, masked=False), out)


@pytest.mark.parametrize("faithful", [False, True])
def test_cached_inference_equals_uncached(faithful):
    model = make(faithful, seed=3)
    feats, spk = torch.randn(3, 70, 20), torch.eye(3)
    cached = model.predict(feats, spk, use_cache=True)
    uncached = model.predict(feats, spk, use_cache=False)
    assert cached.abs().mean() > 0.05
    assert torch.allclose(cached, uncached, atol=1e-5)


def test_teacher_forcing_on_own_predictions_equals_autoregression():
    """Fixed mode trains and infers with the same causal mask: feeding back the AR output reproduces it."""
    model = make(False, seed=4)
    with torch.no_grad():
        memory, style = model.memory(torch.randn(2, 40, 20)), model.style(torch.eye(3)[:2])
        ar = model.decode_autoregressive(memory, style, masked=True, use_cache=True)
        assert torch.allclose(model.decode_teacher_forced(memory, style, ar), ar, atol=1e-5)
