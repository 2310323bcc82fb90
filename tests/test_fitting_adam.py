"""The fit's Adam makes torch.optim.Adam's updates, bit for bit, without importing torch._dynamo."""

from __future__ import annotations

import subprocess
import sys

import torch

from gsmoothface.fitting.adam import Adam


def test_same_updates_as_torch_adam_with_groups_and_a_schedule() -> None:
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(7)]
    ours = [t.clone().requires_grad_(True) for t in start]
    theirs = [t.clone().requires_grad_(True) for t in start]
    mine = Adam([([ours[0]], 0.1), ([ours[1]], 0.03)])
    reference = torch.optim.Adam([{"params": [theirs[0]], "lr": 0.1}, {"params": [theirs[1]], "lr": 0.03}])
    schedule = torch.optim.lr_scheduler.LambdaLR(reference, lambda k: 1.0 / (1 + k))
    mine.scale_lr(1.0)
    for k in range(25):
        mine.zero_grad()
        reference.zero_grad(set_to_none=True)
        only_first = k % 3 == 0  # tensors without a gradient are left alone, momentum and all
        for params in (ours, theirs):
            loss = (params[0] ** 2).sum().sin() + (0 if only_first else (params[1] ** 3).sum())
            loss.backward()
        mine.step()
        reference.step()
        schedule.step()
        mine.scale_lr(1.0 / (2 + k))
        for a, b in zip(ours, theirs, strict=True):
            assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes(), k
    assert not torch.equal(ours[0], start[0])  # it did move


def test_no_dynamo_import() -> None:
    code = (
        "import sys, torch\n"
        "from gsmoothface.fitting.adam import Adam\n"
        "p = torch.zeros(3, requires_grad=True)\n"
        "opt = Adam([([p], 0.1)]); p.sum().backward(); opt.step()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
