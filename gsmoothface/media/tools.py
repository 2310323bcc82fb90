"""Versions of the system tools whose output the pipeline's files depend on (ffmpeg, espeak-ng).

Two machines with other builds of these tools can write other bytes from the same params; outputs
that depend on them record the versions, so a changed hash can be traced to its cause.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

# command -> (version flag, text that ends the version part of the first output line)
_TOOLS = {"ffmpeg": ("-version", " Copyright"), "espeak-ng": ("--version", "  Data at")}


@functools.cache
def tool_version(command: str) -> str | None:
    """The version line of ``command`` (``ffmpeg``, ``espeak-ng``), or None when it is not installed."""
    flag, end = _TOOLS[command]
    if shutil.which(command) is None:
        return None
    out = subprocess.run([command, flag], capture_output=True, text=True, check=False).stdout
    first = out.splitlines()[0] if out else ""
    return first.split(end)[0].strip() or None


def tool_versions(*commands: str) -> dict[str, str | None]:
    """``{command: version line}`` of each command (all known tools by default)."""
    return {name: tool_version(name) for name in commands or tuple(_TOOLS)}
