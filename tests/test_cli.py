import subprocess
import sys

from typer.testing import CliRunner

from stages.cli import app

PIPELINE_COMMANDS = (
    "synth",
    "slice",
    "fit-3dmm",
    "audio-features",
    "train-a2ep",
    "blend",
    "train-taft",
    "evaluate",
)


def test_every_pipeline_stage_and_inference_command_is_registered():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        *PIPELINE_COMMANDS,
        "generate",
        "predict-exp",
        "translate",
        "convert-bfm",
        "manifest",
        "score",
    ):
        assert command in result.stdout


def test_help_imports_no_heavy_library():
    # `gsmoothface --help` stays fast because no command imports torch & co at module level.
    code = (
        "import sys; from stages.cli import app; "
        "heavy = [m for m in ('torch', 'transformers', 'librosa', 'dvc', 'numba') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_stages_works():
    out = subprocess.run(
        [sys.executable, "-m", "stages", "--help"], capture_output=True, text=True, check=True
    )
    assert "fit-3dmm" in out.stdout


def test_bad_params_key_is_a_one_line_error(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("base: {seed: 0}\naudio: {frontnd: logmel}\n")
    wav = tmp_path / "clips"
    wav.mkdir()
    result = CliRunner().invoke(app, ["audio-features", "--clips", str(wav), "--params", str(params)])
    assert result.exit_code == 1
    assert "unknown key 'frontnd' in params section 'audio'" in result.output
