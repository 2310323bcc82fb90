"""Wall time per named step of a job, for the per-step tables of the benches and the verbose output."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class StepTimes:
    """Accumulates wall seconds per step name, in the order the steps first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        """Time the ``with`` body and add it to ``step``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - start

    def add(self, step: str, seconds: float) -> None:
        """Add time measured elsewhere (another thread's work) to ``step``."""
        self.seconds[step] = self.seconds.get(step, 0.0) + seconds

    def table(self) -> str:
        """``step 1.2 s, step 3.4 s, ...`` in the order the steps first ran."""
        return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in self.seconds.items())
