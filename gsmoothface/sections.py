"""Every ``params.yaml`` section and the frozen config class it is read into."""

from __future__ import annotations

import importlib
from typing import Any

from gsmoothface.config import ConfigError, load_section

# section -> "module:Class"; imported on use so that loading one section does not import every stage
SECTIONS: dict[str, str] = {
    "base": "gsmoothface.config:BaseConfig",
    "face_model": "gsmoothface.face_model.config:FaceModelConfig",
    "render": "gsmoothface.render.config:RenderConfig",
    "blend": "gsmoothface.blend.config:BlendConfig",
    "taft": "gsmoothface.taft.config:TaftConfig",
    "slice": "gsmoothface.slicing.config:SliceConfig",
    "audio": "gsmoothface.audio.config:AudioConfig",
    "a2ep": "gsmoothface.a2ep.config:A2EPConfig",
    "evaluate": "gsmoothface.evaluation.config:EvaluateConfig",
    "generate": "gsmoothface.generate.config:GenerateConfig",
    "synth": "gsmoothface.synth.config:SynthConfig",
    "fit_3dmm": "gsmoothface.fitting.config:Fit3dmmConfig",
    "adapt": "gsmoothface.people.config:AdaptConfig",
}

# the sections the inference path reads (``gsmoothface generate`` and ``gsmoothface app``): its own,
# those of the models it loads, those of slicing and fitting a raw reference video, and adapt
INFERENCE_SECTIONS = (
    "base",
    "generate",
    "audio",
    "blend",
    "face_model",
    "render",
    "slice",
    "fit_3dmm",
    "adapt",  # where person models are (adapt.out_dir)
)


def section_class(section: str) -> type[Any]:
    """The config class of ``section``."""
    if section not in SECTIONS:
        raise ConfigError(f"no params section '{section}' (known: {', '.join(SECTIONS)})")
    module, name = SECTIONS[section].split(":")
    return getattr(importlib.import_module(module), name)


def load_sections(params: dict[str, Any], sections: tuple[str, ...]) -> dict[str, Any]:
    """Each of ``sections`` of the read ``params`` as its typed config, in order."""
    return {name: load_section(section_class(name), name, params) for name in sections}
