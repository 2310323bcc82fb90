"""Every params section: the committed values equal the dataclass defaults, and every wrong value
reaches the user as the same one-line error with exit status 1, from every command that reads it."""

import dataclasses
import importlib
import typing
from pathlib import Path

import pytest
import torch
import typer.main
import yaml
from typer.testing import CliRunner

from gsmoothface.config import ConfigError, field_range, load_section, read_params
from gsmoothface.device import resolve_device
from gsmoothface.render import cuda as render_cuda
from gsmoothface.sections import SECTIONS, section_class
from stages.cli import STAGE_MODULES, app
from tests.test_dvc_deps import stage_module, stage_specs

ROOT = Path(__file__).resolve().parents[1]


def test_committed_params_equal_the_dataclass_defaults():
    params = read_params(ROOT / "params.yaml")
    assert sorted(params) == sorted(SECTIONS)
    for section in SECTIONS:
        cls = section_class(section)
        assert sorted(params[section]) == sorted(f.name for f in dataclasses.fields(cls)), section
        loaded, default = load_section(cls, section, params), cls()
        for field in dataclasses.fields(cls):
            value = getattr(loaded, field.name)
            assert value == getattr(default, field.name), f"{section}.{field.name}: {value!r} in params.yaml"


def _bad_value(field: dataclasses.Field, hint: typing.Any) -> typing.Any | None:
    """A value outside what the field accepts, or None when it accepts any value of its type."""
    allowed = field_range(field)
    if allowed is not None:
        value = allowed.low - 1 if allowed.low is not None else allowed.high + 1
        return int(value) if hint is int else value
    if typing.get_origin(hint) is typing.Literal:
        return "not-an-option"
    return None


def _cases() -> list[typing.Any]:
    cases = []
    for module_name in STAGE_MODULES:
        module = importlib.import_module(module_name)
        command = typer.main.get_command(module.app)
        for section in module.SECTIONS:
            cls = section_class(section)
            hints = typing.get_type_hints(cls)
            for field in dataclasses.fields(cls):
                bad = _bad_value(field, hints[field.name])
                if bad is not None:
                    case_id = f"{command.name}-{section}.{field.name}"
                    cases.append(pytest.param(command.name, section, field.name, bad, id=case_id))
    return cases


def _required_args(name: str) -> list[str]:
    """Placeholder values for a command's required options and arguments."""
    args = []
    for param in typer.main.get_command(app).commands[name].params:
        if param.required:
            args += [param.opts[0], "missing"] if param.param_type_name == "option" else ["missing"]
    return args


@pytest.mark.parametrize(("command", "section", "key", "bad"), _cases())
def test_a_wrong_value_is_a_one_line_error_from_every_command(tmp_path, command, section, key, bad):
    params = read_params(ROOT / "params.yaml")
    params[section][key] = bad
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(app, [command, *_required_args(command), "--params", str(path)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith(f"error: key '{key}' in params section '{section}' must be"), lines[0]


def test_every_command_with_params_reads_the_sections_dvc_yaml_lists():
    for name, spec in stage_specs().items():
        module = importlib.import_module(stage_module(spec))
        assert sorted(spec["params"]) == sorted(module.SECTIONS), name


def test_cuda_without_a_gpu_is_one_message_from_one_place(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="key 'device' in params section 'base' is 'cuda' but no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="key 'backend' in params section 'render' is 'cuda' but no CUDA"):
        render_cuda._device(torch.zeros(1))


def test_a_cross_field_rule_is_the_same_one_line_error(tmp_path):
    params = read_params(ROOT / "params.yaml")
    params["taft"]["patch"] = 2 ** params["taft"]["layers"] + 4  # positive, not a multiple of 2**layers
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(app, ["train-taft", "--params", str(path)])
    assert result.exit_code == 1
    side, patch = 2 ** params["taft"]["layers"], params["taft"]["patch"]
    expected = f"must be 0 or a multiple of 2**layers ({side}), got {patch}"
    assert result.output.strip().splitlines() == [f"error: key 'patch' in params section 'taft' {expected}"]
