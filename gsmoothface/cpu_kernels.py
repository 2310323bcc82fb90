"""One CPU kernel level for torch, MKL and oneDNN, so a stage computes the same bytes on any CPU.

torch (ATen), MKL and oneDNN pick their vector kernels from the CPU they run on. AVX-512 kernels
sum in another order than AVX2 ones, so the same stage gives other low bits on another machine:
a rendered pixel lands on the other side of a rounding step, the video's bytes change, and every
output after it in ``dvc.lock`` with them. Pinned to AVX2 (``base.cpu_kernels: avx2``), every
x86-64 CPU that has AVX2 runs the same kernels; ``native`` lets each CPU use its fastest. The
level must be chosen before the libraries run their first operation, so stages pin it as soon as
they have read their params.
"""

from __future__ import annotations

import os

# environment variables each library reads once, at its first operation
LEVELS: dict[str, dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "native": {},
}


def pin_cpu_kernels(level: str) -> None:
    """Make torch, MKL and oneDNN use the kernels of ``level`` in this process and its children.

    Sets the libraries' environment variables only (no import: a stage that needs no torch does
    not load it). Where torch already ran in this process (a library caller, a test), its own
    level stays what it was: the level is fixed at torch's first operation.
    """
    os.environ.update(LEVELS[level])
