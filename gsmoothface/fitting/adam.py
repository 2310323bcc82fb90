"""Adam for the 3DMM fit, without ``torch.optim``.

``torch.optim.Adam`` imports ``torch._dynamo`` when it is built: 2 s in every process, which
``fit-3dmm`` pays once per clip and ``generate`` once per new reference, for an optimiser of a few
small coefficient tensors. This one performs the same update, operation for operation, as
torch's default CPU path (single-tensor Adam, no weight decay, no AMSGrad), so the fits are the
same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class Adam:
    """Adam over groups of leaf tensors, each group with its own learning rate.

    Parameters
    ----------
    groups: ``(tensors, lr)`` pairs.
    betas, eps: Adam's moment decays and denominator term (torch's defaults).
    """

    def __init__(
        self,
        groups: Sequence[tuple[Sequence[torch.Tensor], float]],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.groups = [(list(tensors), float(lr)) for tensors, lr in groups]
        self.base_lrs = [lr for _, lr in self.groups]
        self.betas, self.eps = betas, eps
        self.state: dict[int, tuple[list[float], torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        """Drop the gradients of every tensor (``set_to_none``)."""
        for tensors, _ in self.groups:
            for tensor in tensors:
                tensor.grad = None

    def scale_lr(self, factor: float) -> None:
        """Set each group's learning rate to its initial one times ``factor`` (a schedule's step)."""
        self.groups = [
            (tensors, base * factor) for (tensors, _), base in zip(self.groups, self.base_lrs, strict=True)
        ]

    @torch.no_grad()
    def step(self) -> None:
        """One update of every tensor that has a gradient."""
        beta1, beta2 = self.betas
        for tensors, lr in self.groups:
            for param in tensors:
                if param.grad is None:
                    continue
                grad = param.grad
                if id(param) not in self.state:
                    self.state[id(param)] = ([0.0], torch.zeros_like(param), torch.zeros_like(param))
                count, exp_avg, exp_avg_sq = self.state[id(param)]
                count[0] += 1.0
                step = count[0]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(self.eps)
                param.addcdiv_(exp_avg, denom, value=-(lr / bias_correction1))
