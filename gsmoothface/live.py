"""DVCLive folders that survive a kill: repaired before a resumed run appends to them."""

from __future__ import annotations

import csv
from pathlib import Path


def prepare_live_resume(live_dir: Path, next_step: int) -> None:
    """Make a DVCLive folder resumable at ``next_step``, the first step the resumed run logs.

    Rows of step ``next_step`` or later are dropped (they are logged again), as is any row a kill
    cut short; the summary and params files, which the resumed run writes again, are removed, since a
    kill while DVCLive wrote them leaves them unreadable.
    """
    for name in ("metrics.json", "params.yaml"):
        (live_dir / name).unlink(missing_ok=True)
    for tsv in (live_dir / "plots" / "metrics").rglob("*.tsv"):
        with tsv.open() as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        if not rows or "step" not in rows[0]:
            continue
        col = rows[0].index("step")
        whole = [r for r in rows[1:] if len(r) == len(rows[0]) and r[col].isdigit()]
        kept = [rows[0]] + [r for r in whole if int(r[col]) < next_step]
        with tsv.open("w", newline="") as fh:
            csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(kept)
