from pathlib import Path

import numpy as np
import pytest
import scipy.io
from typer.testing import CliRunner

from gsmoothface.errors import InputError, MissingAssetError
from gsmoothface.face_model import FaceModelConfig, load_face_model
from gsmoothface.face_model.bfm_io import MODEL_KEYS, convert_bfm09, load_model_arrays, write_model
from stages.convert_bfm import app

N_BFM, N_EXP_V, EXP_DIM = 10, 8, 66  # tiny stand-ins for 53490 / 53215 vertices and 79 components
TRIM = np.array([1, 2, 4, 5, 6, 7, 9, 10])  # 1-based into the 10 BFM vertices
FRONT = np.array([2, 3, 5, 7, 8])  # 1-based into the 8 expression vertices


def write_raw_bfm(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Tiny raw BFM09 files with the real layouts; returns the arrays written."""
    rng = np.random.default_rng(seed)
    raw = {
        "shapeMU": rng.normal(0, 5e4, (3 * N_BFM, 1)).astype(np.float32),
        "shapePC": rng.normal(size=(3 * N_BFM, 85)).astype(np.float32),
        "shapeEV": rng.uniform(1e3, 1e5, (85, 1)).astype(np.float32),
        "texMU": rng.uniform(50, 200, (3 * N_BFM, 1)).astype(np.float32),
        "texPC": rng.normal(size=(3 * N_BFM, 82)).astype(np.float32),
        "texEV": rng.uniform(1, 50, (82, 1)).astype(np.float32),
    }
    scipy.io.savemat(folder / "01_MorphableModel.mat", raw)
    exp_mu = rng.normal(size=3 * N_EXP_V).astype("<f4")
    exp_pc = rng.normal(size=(EXP_DIM, 3 * N_EXP_V)).astype("<f4")  # component-major on disk
    (folder / "Exp_Pca.bin").write_bytes(
        np.int32(EXP_DIM).astype("<i4").tobytes() + exp_mu.tobytes() + exp_pc.tobytes()
    )
    exp_ev = rng.uniform(1e4, 5e5, EXP_DIM)
    np.savetxt(folder / "std_exp.txt", exp_ev)
    scipy.io.savemat(folder / "BFM_exp_idx.mat", {"trimIndex": TRIM.reshape(-1, 1).astype(np.uint16)})
    scipy.io.savemat(folder / "BFM_front_idx.mat", {"idx": FRONT.reshape(-1, 1).astype(np.float32)})
    tri = np.array([[1, 2, 3], [1, 3, 4], [1, 4, 5]])
    point_buf = np.array([[1, 2, 3], [1, 4, 4], [1, 2, 4], [2, 3, 4], [3, 4, 4]])
    info = {
        "tri": tri.astype(np.float32),
        "point_buf": np.concatenate([point_buf, np.full((5, 5), 4)], 1).astype(np.float32),
        "keypoints": (np.arange(68) % 5 + 1).reshape(1, 68).astype(np.float32),
        "frontmask2": np.array([[1, 1, 1, 0, 0]], np.float32),
        "frontmask2_idx": np.array([[1], [2], [3]], np.float32),
        "tri_mask2": np.array([[1, 2, 3]], np.float32),
        "skinmask": np.array([[0, 1, 1, 0, 1]], np.float32),
    }
    scipy.io.savemat(folder / "facemodel_info.mat", info)
    return {**raw, "expPC": exp_pc, "expEV": exp_ev, **info}


@pytest.fixture
def raw_dir(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    folder = tmp_path / "BFM"
    folder.mkdir()
    return folder, write_raw_bfm(folder)


def test_converter_output_matches_hand_computed_vertices(raw_dir):
    folder, raw = raw_dir
    arrays = convert_bfm09(folder, n_exp_vertices=N_EXP_V)
    assert set(arrays) == set(MODEL_KEYS)
    n = len(FRONT)
    shapes = {k: arrays[k].shape for k in ("meanshape", "idBase", "exBase", "meantex", "texBase")}
    assert shapes == {
        "meanshape": (1, 3 * n),
        "idBase": (3 * n, 80),
        "exBase": (3 * n, 64),
        "meantex": (1, 3 * n),
        "texBase": (3 * n, 80),
    }
    # front vertex j = 3: expression vertex FRONT[3] - 1 = 6, BFM09 vertex TRIM[6] - 1 = 8
    j, e, s = 3, 6, 8
    np.testing.assert_allclose(
        arrays["meanshape"][0, 3 * j : 3 * j + 3], raw["shapeMU"][3 * s : 3 * s + 3, 0] / 1e5, rtol=1e-6
    )
    np.testing.assert_allclose(
        arrays["idBase"][3 * j + 1, 5], raw["shapePC"][3 * s + 1, 5] * raw["shapeEV"][5, 0] / 1e5, rtol=1e-5
    )
    np.testing.assert_allclose(
        arrays["exBase"][3 * j + 2, 7], raw["expPC"][7, 3 * e + 2] * raw["expEV"][7] / 1e5, rtol=1e-5
    )
    np.testing.assert_allclose(arrays["meantex"][0, 3 * j], raw["texMU"][3 * s, 0], rtol=1e-6)
    np.testing.assert_allclose(
        arrays["texBase"][3 * j, 79], raw["texPC"][3 * s, 79] * raw["texEV"][79, 0], rtol=1e-5
    )
    np.testing.assert_array_equal(arrays["tri"], raw["tri"])
    np.testing.assert_array_equal(arrays["tri_mask2"], raw["tri_mask2"])
    assert "frontmask2" not in arrays


def test_cli_writes_npz_and_mat_that_the_loader_reads(raw_dir, tmp_path: Path):
    folder, _ = raw_dir
    runner = CliRunner()
    for name in ("front.npz", "front.mat"):
        out = tmp_path / "models" / name
        args = ["--bfm-dir", str(folder), "--out", str(out), "--n-exp-vertices", str(N_EXP_V)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        model = load_face_model(FaceModelConfig(path=out))
        assert model.n_vertices == len(FRONT)
        assert model.face_buf.tolist() == [[0, 1, 2], [0, 2, 3], [0, 3, 4]]
        assert abs(float(model.mean_shape.reshape(-1, 3).mean(0).abs().max())) < 1e-6  # re-centred
    npz, mat = (
        load_model_arrays(tmp_path / "models/front.npz"),
        load_model_arrays(tmp_path / "models/front.mat"),
    )
    for key in MODEL_KEYS:
        np.testing.assert_array_equal(npz[key].reshape(-1), mat[key].reshape(-1))


def corrupt(folder: Path, name: str) -> None:
    path = folder / name
    if name == "Exp_Pca.bin":
        path.write_bytes(path.read_bytes()[:-4])
    elif name == "std_exp.txt":
        np.savetxt(path, np.ones(EXP_DIM - 1))
    elif name == "BFM_exp_idx.mat":
        scipy.io.savemat(
            path, {"trimIndex": np.append(TRIM[:-1], N_BFM + 1).reshape(-1, 1).astype(np.uint16)}
        )
    elif name == "BFM_front_idx.mat":
        scipy.io.savemat(path, {"idx": np.array([[0], [2], [3], [4], [5]], np.float32)})  # 0 is not 1-based
    elif name == "facemodel_info.mat":
        info = scipy.io.loadmat(path)
        info["tri"][0, 0] = len(FRONT) + 1
        scipy.io.savemat(path, {k: v for k, v in info.items() if not k.startswith("__")})
    elif name == "01_MorphableModel.mat":
        scipy.io.savemat(path, {"shapeMU": np.zeros((3 * N_BFM, 1))})


@pytest.mark.parametrize(
    "name",
    [
        "01_MorphableModel.mat",
        "Exp_Pca.bin",
        "std_exp.txt",
        "BFM_exp_idx.mat",
        "BFM_front_idx.mat",
        "facemodel_info.mat",
    ],
)
def test_bad_input_names_the_wrong_file(raw_dir, tmp_path: Path, name: str):
    folder, _ = raw_dir
    corrupt(folder, name)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        convert_bfm09(folder, n_exp_vertices=N_EXP_V)
    out = tmp_path / "front.npz"
    result = CliRunner().invoke(
        app, ["--bfm-dir", str(folder), "--out", str(out), "--n-exp-vertices", str(N_EXP_V)]
    )
    assert result.exit_code == 1 and name in result.output
    assert not out.exists()


def test_missing_raw_file_is_a_missing_asset(raw_dir):
    folder, _ = raw_dir
    (folder / "Exp_Pca.bin").unlink()
    with pytest.raises(MissingAssetError, match=r"Exp_Pca\.bin"):
        convert_bfm09(folder, n_exp_vertices=N_EXP_V)


def test_write_model_refuses_inconsistent_arrays(raw_dir, tmp_path: Path):
    folder, _ = raw_dir
    arrays = convert_bfm09(folder, n_exp_vertices=N_EXP_V)
    arrays["idBase"] = arrays["idBase"][:, :79]
    with pytest.raises(InputError, match="idBase"):
        write_model(tmp_path / "front.npz", arrays)
    assert not (tmp_path / "front.npz").exists()
