"""The A2EP network of GSmoothFace (``Face3DMMOneHotFormer``), a FaceFormer-style decoder.

Audio features (the cached wav2vec2 CNN output, or log-mel for the embedded default) resampled to
25 fps go through a wav2vec2 feature projection and transformer encoder, then ``Linear(768, D)``
into the decoder memory. A one-hot speaker vector gives a style token that starts the sequence and
is added to every expression token. One post-norm decoder layer attends causally over past
expression tokens with the ALiBi bias of FaceFormer (Fan et al. 2022; Press et al. 2022, ALiBi)
and, through the diagonal memory mask, to the audio feature of its own frame only. A zero-initialised
linear layer maps to 64 expression coefficients.

Two modes (``A2EPConfig.faithful``):

- faithful: the released code. Its ``PositionalEncoding`` indexes a batch-first tensor as
  time-first, so every token gets the same vector ``pe[0]``; training decodes autoregressively
  with no self-attention mask and uses all outputs of the last pass.
- fixed: FaceFormer's periodic sinusoidal positional encoding (period 25, as the ALiBi bias; the
  released code has it commented out), teacher-forced parallel training under the same causal ALiBi
  mask used at inference (any batch size), and key/value-cached decoding.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gsmoothface.a2ep.config import A2EPConfig


def alibi_slopes(n_heads: int) -> list[float]:
    """Per-head ALiBi slopes; ``[0.25, 0.0625, 0.015625, 0.00390625]`` for 4 heads (FaceFormer)."""

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n_heads).is_integer():
        return power_of_two(n_heads)
    closest = 2 ** math.floor(math.log2(n_heads))
    return power_of_two(closest) + alibi_slopes(2 * closest)[0::2][: n_heads - closest]


def alibi_bias(n_heads: int, n_query: int, n_key: int, period: int, offset: int = 0) -> torch.Tensor:
    """Causal periodic ALiBi bias (FaceFormer ``init_biased_mask``) for any sequence length.

    Query ``i`` sits at absolute position ``offset + i`` and keys at ``0 .. n_key - 1``; the bias is
    ``-slope_h * floor((pos_q - pos_k) / period)`` for past keys and ``-inf`` for future ones.

    Returns
    -------
    (n_heads, n_query, n_key) float32 additive attention bias.
    """
    q = torch.arange(n_query)[:, None] + offset
    k = torch.arange(n_key)[None, :]
    distance = torch.div(q - k, period, rounding_mode="floor").float()  # (n_query, n_key)
    slopes = torch.tensor(alibi_slopes(n_heads))[:, None, None]
    bias = -slopes * distance  # (H, n_query, n_key)
    return bias.masked_fill((k > q)[None], float("-inf"))


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal position codes of "Attention is all you need": (P,) -> (P, dim)."""
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    angle = positions.float()[:, None] * div[None]  # (P, dim / 2)
    pe = torch.zeros(positions.shape[0], dim)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


class PositionalEncoding(nn.Module):
    """Adds position codes to (B, T, D) tokens, then dropout.

    ``faithful``: every token gets ``pe[0] = [0, 1, 0, 1, ...]``, the released code's behaviour at
    its batch size of one (its ``pe[:B]`` indexes the batch axis). Otherwise token ``t`` gets
    ``pe[(start + t) % period]``: FaceFormer's periodic positional encoding, whose codes repeat with
    the ALiBi period, so a window of any length at inference uses only codes seen in training.
    """

    def __init__(self, dim: int, dropout: float, faithful: bool, period: int) -> None:
        super().__init__()
        self.faithful = faithful
        self.period = period
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("table", sinusoid(torch.arange(period), dim), persistent=False)

    def codes(self, start: int, length: int) -> torch.Tensor:
        """(length, dim) codes of positions ``start ..`` (all ``pe[0]`` in faithful mode)."""
        if self.faithful:
            return self.table[:1].expand(length, -1)
        return self.table[torch.arange(start, start + length, device=self.table.device) % self.period]

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return self.dropout(x + self.codes(start, x.shape[1]).to(x.dtype)[None])


class DecoderLayer(nn.Module):
    """Post-norm transformer decoder layer (``nn.TransformerDecoderLayer`` defaults: ReLU, dropout).

    Self-attention takes an additive bias and an optional key/value cache. Cross-attention uses
    GSmoothFace's diagonal memory mask, under which query ``t`` sees only memory ``t``: the softmax
    over one key is 1, so the output is the value projection of that memory token; only the value
    and output projections of ``nn.MultiheadAttention`` therefore matter and only they are kept.
    """

    def __init__(self, dim: int, n_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout_p = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.self_out = nn.Linear(dim, dim)
        self.cross_value = nn.Linear(dim, dim)
        self.cross_out = nn.Linear(dim, dim)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)  # (B, H, T, D/H)

    def self_attention(
        self, x: torch.Tensor, bias: torch.Tensor | None, cache: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        q, k, v = (self._heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        mask = None if bias is None else bias[None].to(q)  # (1, H, Tq, Tk)
        p = self.dropout_p if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, H, Tq, D/H)
        return self.self_out(out.transpose(1, 2).flatten(2))

    def cross_attention(self, memory: torch.Tensor) -> torch.Tensor:
        v = self._heads(self.cross_value(memory))  # (B, H, T, D/H)
        if self.training and self.dropout_p > 0:
            # attention dropout on the single allowed key: drops or rescales each head's output
            v = v * F.dropout(torch.ones_like(v[..., :1]), self.dropout_p, training=True)
        return self.cross_out(v.transpose(1, 2).flatten(2))

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        bias: torch.Tensor | None = None,
        cache: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x (B, Tq, D) queries, memory (B, Tq, D) the audio tokens of the same frames."""
        x = self.norm1(x + self.dropout(self.self_attention(x, bias, cache)))
        x = self.norm2(x + self.dropout(self.cross_attention(memory)))
        return self.norm3(x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x))))))


def tiny_encoder_config(in_dim: int, cfg: A2EPConfig) -> dict[str, Any]:
    """A small wav2vec2 encoder configuration over ``in_dim``-channel features (log-mel default)."""
    groups = math.gcd(16, cfg.encoder_hidden)
    return {
        "hidden_size": cfg.encoder_hidden,
        "num_hidden_layers": cfg.encoder_layers,
        "num_attention_heads": cfg.encoder_heads,
        "intermediate_size": cfg.encoder_ffn,
        "conv_dim": [in_dim],
        "conv_kernel": [1],
        "conv_stride": [1],
        "num_conv_pos_embeddings": cfg.encoder_pos_kernel,
        "num_conv_pos_embedding_groups": groups,
        "hidden_dropout": cfg.dropout,
        "attention_dropout": cfg.dropout,
        "activation_dropout": 0.0,
        "feat_proj_dropout": cfg.dropout,
        "layerdrop": cfg.encoder_layerdrop,
        "mask_time_prob": cfg.mask_time_prob,
        "mask_time_length": 5,
        # log-mel frames carry loudness as a common offset of all bands, which a per-frame
        # LayerNorm would remove; loudness drives the jaw, so this encoder projects them directly
        "feat_proj_layer_norm": False,
    }


class AudioEncoder(nn.Module):
    """wav2vec2 feature projection + transformer encoder over cached CNN features (B, T, C).

    Built with ``transformers.Wav2Vec2Model`` minus its CNN, so the recipe loads the fine-tuned
    part of wav2vec2-base-960h unchanged; SpecAugment time masking is applied in training as in
    GSmoothFace's custom wav2vec2 forward.
    """

    def __init__(self, encoder_config: dict[str, Any]) -> None:
        super().__init__()
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        config = Wav2Vec2Config(**encoder_config)
        self.wav2vec2 = Wav2Vec2Model(config)
        self.wav2vec2.feature_extractor = None  # frozen CNN: its output is cached by audio_features
        if not getattr(config, "feat_proj_layer_norm", True):
            self.wav2vec2.feature_projection.layer_norm = nn.Identity()
        self.hidden_size = config.hidden_size

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.wav2vec2.feature_projection(features)  # (B, T, hidden)
        if self.training:
            hidden = self.wav2vec2._mask_hidden_states(hidden)
        return self.wav2vec2.encoder(hidden).last_hidden_state  # (B, T, hidden)


class A2EP(nn.Module):
    """GSmoothFace's audio-to-expression predictor.

    Parameters
    ----------
    cfg: sizes and mode.
    encoder_config: ``transformers.Wav2Vec2Config`` keyword arguments of the audio encoder.
    n_speakers: size of the one-hot speaker code (number of training speakers).
    """

    def __init__(self, cfg: A2EPConfig, encoder_config: dict[str, Any], n_speakers: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_speakers = n_speakers
        self.audio_encoder = AudioEncoder(encoder_config)
        self.audio_feature_map = nn.Linear(self.audio_encoder.hidden_size, cfg.d_model)
        self.obj_vector = nn.Linear(n_speakers, cfg.d_model, bias=False)  # speaker style
        self.vertice_map = nn.Linear(cfg.exp_dim, cfg.d_model)  # expression encoder
        self.ppe = PositionalEncoding(cfg.d_model, cfg.dropout, cfg.faithful, cfg.period)
        self.decoder = nn.ModuleList(
            DecoderLayer(cfg.d_model, cfg.n_heads, cfg.ffn_dim, cfg.dropout) for _ in range(cfg.n_layers)
        )
        self.vertice_map_r = nn.Linear(cfg.d_model, cfg.exp_dim)
        nn.init.zeros_(self.vertice_map_r.weight)
        nn.init.zeros_(self.vertice_map_r.bias)

    def memory(self, features: torch.Tensor) -> torch.Tensor:
        """Audio features (B, T, C) at 25 fps -> decoder memory (B, T, D)."""
        return self.audio_feature_map(self.audio_encoder(features))

    def style(self, speaker: torch.Tensor) -> torch.Tensor:
        """One-hot (or mixed) speaker codes (B, S) -> style tokens (B, 1, D)."""
        return self.obj_vector(speaker)[:, None]

    def _decode(self, tokens: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        x = self.ppe(tokens)
        for layer in self.decoder:
            x = layer(x, memory, bias)
        return self.vertice_map_r(x)  # (B, T, exp_dim)

    def _bias(self, n: int, device: torch.device) -> torch.Tensor:
        return alibi_bias(self.cfg.n_heads, n, n, self.cfg.period).to(device)

    def decode_teacher_forced(
        self, memory: torch.Tensor, style: torch.Tensor, past: torch.Tensor
    ) -> torch.Tensor:
        """All frames in one causal pass, each conditioned on the given past (fixed-mode training).

        memory (B, T, D), style (B, 1, D), past (B, T, 64) expressions of which frames 0..T-2
        are fed back -> (B, T, 64) predictions.
        """
        tokens = torch.cat([style, self.vertice_map(past[:, :-1]) + style], dim=1)  # (B, T, D)
        return self._decode(tokens, memory, self._bias(past.shape[1], memory.device))

    def decode_scheduled(
        self, memory: torch.Tensor, style: torch.Tensor, exp: torch.Tensor, mix: float
    ) -> torch.Tensor:
        """Teacher forcing with parallel scheduled sampling (Duckworth et al. 2019).

        A first, gradient-free teacher-forced pass predicts every frame; each past frame is then
        replaced by that prediction with probability ``mix`` and the second pass is trained. The
        model thus learns to continue from its own outputs, as it must at inference, while training
        stays one parallel pass per window.
        """
        if mix <= 0:
            return self.decode_teacher_forced(memory, style, exp)
        with torch.no_grad():
            first = self.decode_teacher_forced(memory, style, exp)
        replace = torch.rand((*exp.shape[:2], 1), device=exp.device) < mix  # (B, T, 1)
        return self.decode_teacher_forced(memory, style, torch.where(replace, first, exp))

    def decode_autoregressive(
        self, memory: torch.Tensor, style: torch.Tensor, masked: bool = True, use_cache: bool = False
    ) -> torch.Tensor:
        """Frame-by-frame decoding from the style token (inference; faithful training).

        ``masked=False`` is the released training loop: no self-attention mask, each step re-runs
        the whole prefix, and the result is every output of the last pass. ``use_cache`` keeps
        keys/values of past tokens and feeds one token per step (requires ``masked``).

        memory (B, T, D), style (B, 1, D) -> (B, T, 64).
        """
        if use_cache:
            if not masked:
                raise ValueError("key/value caching needs the causal mask")
            return self._decode_cached(memory, style)
        n = memory.shape[1]
        bias = self._bias(n, memory.device) if masked else None
        tokens = style
        out = style.new_zeros(style.shape[0], 0, self.cfg.exp_dim)
        for i in range(n):
            step_bias = None if bias is None else bias[:, : i + 1, : i + 1]
            out = self._decode(tokens, memory[:, : i + 1], step_bias)  # (B, i + 1, 64)
            tokens = torch.cat([tokens, self.vertice_map(out[:, -1:]) + style], dim=1)
        return out

    def _decode_cached(self, memory: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        n = memory.shape[1]
        caches: list[dict[str, torch.Tensor]] = [{} for _ in self.decoder]
        bias = self._bias(n, memory.device).to(memory)  # (H, n, n); step i uses row i
        token = style
        outputs = []
        for i in range(n):
            x = self.ppe(token, start=i)  # (B, 1, D)
            for layer, cache in zip(self.decoder, caches, strict=True):
                x = layer(x, memory[:, i : i + 1], bias[:, i : i + 1, : i + 1], cache)
            y = self.vertice_map_r(x)  # (B, 1, 64)
            outputs.append(y)
            token = self.vertice_map(y) + style
        return torch.cat(outputs, dim=1)

    def forward(self, features: torch.Tensor, speaker: torch.Tensor, exp: torch.Tensor) -> torch.Tensor:
        """Training forward: features (B, T, C), speaker (B, S), targets exp (B, T, 64) -> (B, T, 64).

        Faithful mode decodes autoregressively without a mask (the targets are not fed back);
        fixed mode is teacher-forced (with scheduled sampling) and causal.
        """
        memory = self.memory(features)
        style = self.style(speaker)
        if self.cfg.faithful:
            return self.decode_autoregressive(memory, style, masked=False)
        return self.decode_scheduled(memory, style, exp, self.cfg.scheduled_sampling)

    @torch.no_grad()
    def predict(self, features: torch.Tensor, speaker: torch.Tensor, use_cache: bool = True) -> torch.Tensor:
        """Inference on one window per batch row: features (B, T, C), speaker (B, S) -> (B, T, 64)."""
        memory = self.memory(features)
        return self.decode_autoregressive(memory, self.style(speaker), masked=True, use_cache=use_cache)


def pretrained_encoder(wav2vec2: Any, cfg: A2EPConfig) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Encoder configuration and weights taken from a loaded ``Wav2Vec2Model`` (the recipe).

    Returns the model's config (with ``layerdrop`` and ``mask_time_prob`` from ``cfg``) and its
    state dict without the CNN feature extractor, ready for :class:`AudioEncoder`.
    """
    config = wav2vec2.config.to_dict()
    config.update(layerdrop=cfg.encoder_layerdrop, mask_time_prob=cfg.mask_time_prob)
    state = {k: v for k, v in wav2vec2.state_dict().items() if not k.startswith("feature_extractor.")}
    if cfg.mask_time_prob <= 0:
        state.pop("masked_spec_embed", None)
    elif "masked_spec_embed" not in state:
        state["masked_spec_embed"] = torch.rand(config["hidden_size"])
    return config, state
