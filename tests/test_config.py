import dataclasses
from pathlib import Path
from typing import Literal

import pytest

from gsmoothface.config import BaseConfig, ConfigError, load_section, read_params


@dataclasses.dataclass(frozen=True)
class ExampleConfig:
    steps: int = 10
    lr: float = 1e-4
    name: str = "x"
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)
    weights: Path | None = None


def test_defaults_and_coercion():
    cfg = load_section(ExampleConfig, "s", {"s": {"lr": 1, "sizes": [3, 4], "weights": "w.pt"}})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.sizes == (3, 4)
    assert cfg.weights == Path("w.pt")
    assert cfg.steps == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"stpes": 3}, "unknown key 'stpes' in params section 's'"),
        ({"steps": "3"}, "key 'steps' in params section 's' must be an integer"),
        ({"steps": True}, "key 'steps' in params section 's' must be an integer"),
        ({"flag": "yes"}, "key 'flag' in params section 's' must be true or false"),
        ({"mode": "c"}, "key 'mode' in params section 's' must be one of"),
        ({"sizes": 3}, "key 'sizes' in params section 's' must be a list"),
    ],
)
def test_bad_keys_name_key_and_section(section, message):
    with pytest.raises(ConfigError, match=message):
        load_section(ExampleConfig, "s", {"s": section})


def test_missing_section_is_an_error():
    with pytest.raises(ConfigError, match="params section 'nope' is missing"):
        load_section(ExampleConfig, "nope", {})


def test_project_params_base_section_loads():
    root = Path(__file__).resolve().parents[1]
    params = read_params(root / "params.yaml")
    base = load_section(BaseConfig, "base", params)
    assert base.fps == 25 and base.sample_rate == 16000
