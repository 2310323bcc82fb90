"""Typed, frozen configs, one per ``params.yaml`` section, loaded with strict validation.

Every stage reads its section through :func:`load_section`. An unknown key, a missing section, a
value of the wrong type or out of its range is a :class:`ConfigError` that names the key and the
section, so a typo in ``params.yaml`` (or in ``dvc exp run -S``) fails loudly instead of being ignored.
A numeric field declares its range with :func:`ranged`; the config's ``__post_init__`` calls
:func:`check_ranges`, so a config built in code is held to the same rule.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

PARAMS_FILE = Path("params.yaml")

T = TypeVar("T")


class ConfigError(ValueError):
    """A params section that does not match its typed config."""


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of a numeric field: ``low <= v`` and ``v <= high`` (``v < high`` when
    ``high_open``), and odd when ``odd``; ``None`` leaves a side unbounded."""

    low: float | None = None
    high: float | None = None
    high_open: bool = False
    odd: bool = False

    def holds(self, value: float) -> bool:
        """Whether ``value`` lies in the range."""
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return not self.odd or value % 2 == 1

    def describe(self) -> str:
        """The range in words, for error messages."""
        if self.low is not None and self.high is not None:
            text = f"in [{self.low}, {self.high}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text = f">= {self.low}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '<='} {self.high}"
        else:
            text = "any number"
        return f"an odd number {text}" if self.odd else text


def ranged(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    high_open: bool = False,
    odd: bool = False,
) -> Any:
    """A dataclass field with ``default`` whose values must lie in a :class:`Range`."""
    return dataclasses.field(default=default, metadata={"range": Range(low, high, high_open, odd)})


def field_range(field: dataclasses.Field[Any]) -> Range | None:
    """The :class:`Range` a field was declared with by :func:`ranged`, or ``None``."""
    return field.metadata.get("range")


def check_ranges(config: Any, section: str) -> None:
    """Raise :class:`ConfigError` naming the key, ``section`` and the range for the first field of
    ``config`` whose value lies outside the range it was declared with."""
    for field in dataclasses.fields(config):
        allowed = field_range(field)
        value = getattr(config, field.name)
        if allowed is not None and value is not None and not allowed.holds(value):
            raise ConfigError(
                f"key '{field.name}' in params section '{section}' must be {allowed.describe()}, "
                f"got {value!r}"
            )


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Shared numbers (``base`` section): seeds, frame and sample rates, device, logging."""

    seed: int = ranged(0, low=0)
    fps: int = ranged(25, low=1)  # video frames per second everywhere after `slice`
    sample_rate: int = ranged(16000, low=1)  # audio samples per second everywhere after `slice`
    device: Literal["auto", "cpu", "cuda"] = "auto"
    cpu_kernels: Literal["avx2", "native"] = "avx2"  # the same bytes on every x86-64 CPU | its fastest
    progress_every: int = ranged(50, low=1)  # a plain progress line every N items off a terminal

    def __post_init__(self) -> None:
        check_ranges(self, "base")


def read_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read a params YAML file into a dict (an empty file gives an empty dict)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    with path.open() as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    return data


def load_section(
    cls: type[T],
    section: str,
    params: dict[str, Any] | None = None,
    path: str | Path = PARAMS_FILE,
) -> T:
    """Build the frozen config ``cls`` from ``params[section]``.

    Parameters
    ----------
    cls: a frozen dataclass whose fields (with defaults) are the section's keys.
    section: the section name in ``params.yaml``.
    params: already-read params; read from ``path`` when ``None``.

    Raises
    ------
    ConfigError: the section is missing or not a mapping, a key is unknown, or a value has the
        wrong type. The message names the key and the section.
    """
    if params is None:
        params = read_params(path)
    if section not in params:
        raise ConfigError(f"params section '{section}' is missing (expected keys of {cls.__name__})")
    raw = params[section] or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"params section '{section}' must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ConfigError(
            f"unknown key '{unknown[0]}' in params section '{section}' "
            f"(known keys: {', '.join(sorted(fields))})"
        )
    values = {key: _coerce(value, hints[key], key, section) for key, value in raw.items()}
    try:
        return cls(**values)
    except TypeError as exc:  # a field without default left out
        raise ConfigError(f"params section '{section}': {exc}") from exc


def _coerce(value: Any, hint: Any, key: str, section: str) -> Any:
    """Check ``value`` against the type ``hint`` and convert YAML forms (list -> tuple, int -> float)."""

    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(f"key '{key}' in params section '{section}' must be {expected}, got {value!r}")

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, key, section)
            except ConfigError:
                continue
        fail(" or ".join(getattr(a, "__name__", str(a)) for a in args))
    if origin is Literal:
        if value not in args:
            fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            fail("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key, section) for v in value)
        if len(args) != len(value):
            fail(f"a list of {len(args)} items")
        return tuple(_coerce(v, a, key, section) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            fail("a string")
        return value
    if hint is Path:
        if not isinstance(value, str):
            fail("a path string")
        return Path(value)
    raise ConfigError(f"key '{key}' in params section '{section}': unsupported type {hint}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a config (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))
