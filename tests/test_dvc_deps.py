"""dvc.yaml's code dependencies cover every project file a stage imports.

DVC cannot see imports, so each stage lists its code by hand; a file left out would let `dvc.lock`
vouch for results the code no longer makes. The imports are read statically from the source,
including the ones inside functions, and the config modules of the sections a stage reads.
"""

import ast
import importlib
from pathlib import Path

import pytest
import yaml

from gsmoothface.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gsmoothface", "stages")


def module_file(name: str) -> Path | None:
    """The source file of a project module, or None for a name that is not a module."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """Project modules ``path`` imports (with their parent packages, which Python runs first)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule or a name
    modules = set()
    for name in names:
        parts = name.split(".")
        if parts[0] in PACKAGES:
            modules.update(".".join(parts[: k + 1]) for k in range(len(parts)))
    return {m for m in modules if module_file(m) is not None}


def transitive_files(module: str) -> set[Path]:
    """Every project file reached from ``module`` by imports, and the config modules of the params
    sections it reads (its ``SECTIONS``, loaded by name)."""
    start = {module, *(SECTIONS[s].split(":")[0] for s in importlib.import_module(module).SECTIONS)}
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imported_modules(module_file(name)))
    return {module_file(name).relative_to(ROOT) for name in seen}


def stage_module(spec: dict) -> str:
    """The module of the command a dvc.yaml stage runs (``gsmoothface audio-features ...`` ->
    ``stages.audio_features``); a stage may run another stage's command with other options."""
    command = spec["cmd"].split()[1]
    return f"stages.{command.replace('-', '_')}"


def stage_specs() -> dict[str, dict]:
    """dvc.yaml's stages, each as its (``foreach``) template."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def stage_deps() -> dict[str, tuple[str, list[str]]]:
    return {name: (stage_module(spec), spec["deps"]) for name, spec in stage_specs().items()}


def covered(path: Path, deps: list[str]) -> bool:
    return any(path == Path(dep) or Path(dep) in path.parents for dep in deps)


@pytest.mark.parametrize(("stage", "module_deps"), stage_deps().items(), ids=list(stage_deps()))
def test_stage_deps_cover_its_transitive_imports(stage, module_deps):
    module, deps = module_deps
    missing = sorted(str(p) for p in transitive_files(module) if not covered(p, deps))
    assert not missing, f"dvc.yaml stage {stage} imports files it does not depend on: {missing}"


def test_the_walk_follows_imports_inside_functions():
    # train_taft imports the blend store inside its command, and the store imports the atomic writes
    files = transitive_files("stages.train_taft")
    assert {Path("gsmoothface/blend/store.py"), Path("gsmoothface/atomic.py")} <= files
