"""Read, check and write BFM09 front models; convert the raw BFM09 files into one.

The front-model format is Deep3DFace's ``BFM_model_front.mat`` (same keys in ``.npz`` too). The
converter re-implements Deep3DFace's ``transferBFM09`` (util/load_mats.py): it selects the 35,709
front vertices of BFM09 (via ``BFM_exp_idx.mat`` and ``BFM_front_idx.mat``), scales the bases by
their standard deviations, converts micrometres to decimetres and copies ``facemodel_info.mat``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.io

from gsmoothface.atomic import atomic_path, write_npz
from gsmoothface.errors import InputError, MissingAssetError

MODEL_KEYS = (
    "meanshape",
    "idBase",
    "exBase",
    "meantex",
    "texBase",
    "tri",
    "point_buf",
    "keypoints",
    "frontmask2_idx",
    "tri_mask2",
    "skinmask",
)
INFO_KEYS = ("tri", "point_buf", "keypoints", "frontmask2_idx", "tri_mask2", "skinmask")
N_ID, N_EXP, N_TEX = 80, 64, 80  # basis columns kept (the 257-coefficient layout)
UM_TO_DM = 1e-5  # BFM09 and Exp_Pca.bin coordinates are micrometres; the model works in decimetres
BFM_EXP_VERTICES = 53215  # vertices of the trimmed BFM09 topology of Exp_Pca.bin
RAW_FILES = (
    "01_MorphableModel.mat",
    "Exp_Pca.bin",
    "std_exp.txt",
    "BFM_exp_idx.mat",
    "BFM_front_idx.mat",
    "facemodel_info.mat",
)
OBTAIN_RAW = (
    "01_MorphableModel.mat: Basel Face Model 2009 (registration at faces.dmi.unibas.ch); Exp_Pca.bin: "
    "the CoarseData of Guo et al. linked from Deep3DFaceRecon_pytorch's README; the other four: the "
    "BFM/ folder of Deep3DFaceRecon_pytorch"
)


def _read_mat(path: Path) -> dict[str, np.ndarray]:
    try:
        return {k: v for k, v in scipy.io.loadmat(str(path)).items() if not k.startswith("__")}
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5) files
        raise InputError(f"{path}: MATLAB v7.3 files are not supported; re-save it with -v7") from exc
    except (ValueError, OSError, TypeError) as exc:
        raise InputError(f"{path}: not a readable .mat file ({exc})") from exc


def load_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read a front model (``.mat`` or ``.npz``) and check it (see :func:`check_model_arrays`)."""
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(
            f"face model file {path} not found (params key face_model.path); build it from the raw "
            "BFM09 files with `gsmoothface convert-bfm --bfm-dir DIR --out FILE`, or set "
            "face_model.path to null for the synthetic model"
        )
    if path.suffix == ".npz":
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a readable .npz file ({exc})") from exc
    else:
        arrays = _read_mat(path)
    check_model_arrays(arrays, str(path))
    return {k: arrays[k] for k in MODEL_KEYS}


def _index_range(arrays: Mapping[str, np.ndarray], key: str, high: int, source: str) -> None:
    values = np.asarray(arrays[key])
    if values.size == 0 or not np.all(values == np.round(values)):
        raise InputError(f"{source}: '{key}' must be non-empty integer indices")
    if values.min() < 1 or values.max() > high:
        raise InputError(
            f"{source}: '{key}' holds 1-based indices in [{values.min():g}, {values.max():g}], "
            f"expected within [1, {high}]"
        )


def check_model_arrays(arrays: Mapping[str, np.ndarray], source: str) -> None:
    """Check keys, shapes and 1-based index ranges of front-model arrays.

    Raises
    ------
    InputError naming ``source`` and the offending key.
    """
    missing = [k for k in MODEL_KEYS if k not in arrays]
    if missing:
        raise InputError(f"{source}: missing key(s) {', '.join(missing)} of a BFM front model")
    n3 = np.asarray(arrays["meanshape"]).size
    if n3 == 0 or n3 % 3:
        raise InputError(f"{source}: 'meanshape' must hold 3N values, got {n3}")
    for key, width in (("idBase", N_ID), ("exBase", N_EXP), ("texBase", N_TEX)):
        if np.shape(arrays[key]) != (n3, width):
            raise InputError(f"{source}: '{key}' has shape {np.shape(arrays[key])}, expected ({n3}, {width})")
    if np.asarray(arrays["meantex"]).size != n3:
        raise InputError(f"{source}: 'meantex' must hold {n3} values like 'meanshape'")
    n = n3 // 3
    for key in ("tri", "tri_mask2"):
        if np.ndim(arrays[key]) != 2 or np.shape(arrays[key])[1] != 3:
            raise InputError(f"{source}: '{key}' must have shape (F, 3), got {np.shape(arrays[key])}")
    n_faces = np.shape(arrays["tri"])[0]
    if np.shape(arrays["point_buf"])[0] != n:
        raise InputError(f"{source}: 'point_buf' must have {n} rows, got {np.shape(arrays['point_buf'])}")
    if np.asarray(arrays["keypoints"]).size != 68:
        raise InputError(
            f"{source}: 'keypoints' must hold 68 indices, got {np.asarray(arrays['keypoints']).size}"
        )
    if np.asarray(arrays["skinmask"]).size != n:
        raise InputError(f"{source}: 'skinmask' must hold {n} values")
    _index_range(arrays, "tri", n, source)
    _index_range(arrays, "point_buf", n_faces + 1, source)
    _index_range(arrays, "keypoints", n, source)
    _index_range(arrays, "frontmask2_idx", n, source)
    _index_range(arrays, "tri_mask2", np.asarray(arrays["frontmask2_idx"]).size, source)


def write_model(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write front-model arrays atomically: ``.mat`` (MATLAB v5, as Deep3DFace) or ``.npz`` otherwise."""
    path = Path(path)
    check_model_arrays(arrays, str(path))
    data = {k: np.asarray(arrays[k]) for k in MODEL_KEYS}
    if path.suffix == ".mat":
        with atomic_path(path) as tmp:
            scipy.io.savemat(str(tmp), data)
    else:
        write_npz(path, **data)


def load_exp_basis(path: str | Path, n_vertices: int = BFM_EXP_VERTICES) -> np.ndarray:
    """Read ``Exp_Pca.bin``: int32 exp_dim, float32 expMU (3V), float32 expPC (exp_dim x 3V).

    Returns the expression PCs (3V, exp_dim) in micrometres (the mean, unused by Deep3DFace, is dropped).
    """
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) < 4:
        raise InputError(f"{path}: too short for the int32 exp_dim header")
    exp_dim = int(np.frombuffer(raw[:4], dtype="<i4")[0])
    expected = 4 + 4 * 3 * n_vertices * (1 + exp_dim)
    if exp_dim <= 0 or len(raw) != expected:
        raise InputError(
            f"{path}: {len(raw)} bytes with exp_dim {exp_dim}; expected {expected} "
            f"(4 + 4 x 3 x {n_vertices} vertices x (1 mean + exp_dim components))"
        )
    payload = np.frombuffer(raw[4:], dtype="<f4")
    pcs = payload[3 * n_vertices :].reshape(exp_dim, 3 * n_vertices)  # component-major
    return np.ascontiguousarray(pcs.T)  # (3V, exp_dim)


def _column(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).reshape(-1)


def _indices(path: Path, key: str, high: int) -> np.ndarray:
    """0-based vertex selection from a 1-based index file, checked against ``high`` vertices."""
    mat = _read_mat(path)
    if key not in mat:
        raise InputError(f"{path}: missing key '{key}'")
    idx = _column(mat[key]).astype(np.float64)
    if idx.size == 0 or np.any(idx != np.round(idx)) or idx.min() < 1 or idx.max() > high:
        raise InputError(f"{path}: '{key}' must be 1-based integer indices within [1, {high}]")
    return idx.astype(np.int64) - 1


def convert_bfm09(bfm_dir: str | Path, n_exp_vertices: int = BFM_EXP_VERTICES) -> dict[str, np.ndarray]:
    """Build BFM_model_front arrays from the six raw BFM09 files in ``bfm_dir``.

    Parameters
    ----------
    bfm_dir: folder holding ``RAW_FILES``.
    n_exp_vertices: vertices of the expression topology in ``Exp_Pca.bin`` (53,215 for the real file).

    Raises
    ------
    MissingAssetError for a missing file; InputError naming the file whose content is wrong.
    """
    bfm_dir = Path(bfm_dir)
    missing = [name for name in RAW_FILES if not (bfm_dir / name).is_file()]
    if missing:
        raise MissingAssetError(
            f"raw BFM09 file(s) {', '.join(missing)} not found in {bfm_dir} (option --bfm-dir); {OBTAIN_RAW}"
        )
    bfm_path = bfm_dir / "01_MorphableModel.mat"
    bfm = _read_mat(bfm_path)
    for key in ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV"):
        if key not in bfm:
            raise InputError(f"{bfm_path}: missing key '{key}'")
    shape_mu = _column(bfm["shapeMU"]).astype(np.float64)
    n3_bfm = shape_mu.size
    if n3_bfm % 3:
        raise InputError(f"{bfm_path}: 'shapeMU' must hold 3 x n_vertices values, got {n3_bfm}")
    for pc, ev, width in (("shapePC", "shapeEV", N_ID), ("texPC", "texEV", N_TEX)):
        if bfm[pc].ndim != 2 or bfm[pc].shape[0] != n3_bfm or bfm[pc].shape[1] < width:
            raise InputError(f"{bfm_path}: '{pc}' has shape {bfm[pc].shape}, expected ({n3_bfm}, >= {width})")
        if _column(bfm[ev]).size != bfm[pc].shape[1]:
            raise InputError(f"{bfm_path}: '{ev}' must hold one value per column of '{pc}'")
    if _column(bfm["texMU"]).size != n3_bfm:
        raise InputError(f"{bfm_path}: 'texMU' must hold {n3_bfm} values like 'shapeMU'")

    exp_path = bfm_dir / "Exp_Pca.bin"
    exp_pc = load_exp_basis(exp_path, n_exp_vertices)
    std_path = bfm_dir / "std_exp.txt"
    try:
        exp_ev = np.loadtxt(std_path, dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise InputError(f"{std_path}: not a list of numbers ({exc})") from exc
    if exp_ev.size != exp_pc.shape[1]:
        raise InputError(f"{std_path}: {exp_ev.size} values, but {exp_path} has {exp_pc.shape[1]} components")
    if exp_pc.shape[1] < N_EXP:
        raise InputError(f"{exp_path}: {exp_pc.shape[1]} components, at least {N_EXP} needed")

    trim = _indices(bfm_dir / "BFM_exp_idx.mat", "trimIndex", n3_bfm // 3)
    if trim.size != n_exp_vertices:
        raise InputError(
            f"{bfm_dir / 'BFM_exp_idx.mat'}: 'trimIndex' has {trim.size} entries, "
            f"expected {n_exp_vertices} (the vertices of Exp_Pca.bin)"
        )
    expr = _indices(bfm_dir / "BFM_front_idx.mat", "idx", n_exp_vertices)  # E: into the expression topology
    shp = trim[expr]  # S: into the BFM09 vertices

    def rows(matrix: np.ndarray, vertices: np.ndarray) -> np.ndarray:  # (3V, K) -> (3n, K) of the vertices
        return matrix.reshape(-1, 3, matrix.shape[1])[vertices].reshape(-1, matrix.shape[1])

    shape_pc = np.asarray(bfm["shapePC"], dtype=np.float64) * _column(bfm["shapeEV"])[None]
    tex_pc = np.asarray(bfm["texPC"], dtype=np.float64) * _column(bfm["texEV"])[None]
    arrays = {
        "meanshape": (shape_mu.reshape(-1, 3)[shp] * UM_TO_DM).reshape(1, -1).astype(np.float32),
        "idBase": (rows(shape_pc[:, :N_ID], shp) * UM_TO_DM).astype(np.float32),
        "exBase": (rows(exp_pc[:, :N_EXP] * exp_ev[None, :N_EXP], expr) * UM_TO_DM).astype(np.float32),
        "meantex": _column(bfm["texMU"])
        .astype(np.float64)
        .reshape(-1, 3)[shp]
        .reshape(1, -1)
        .astype(np.float32),
        "texBase": rows(tex_pc[:, :N_TEX], shp).astype(np.float32),
    }
    info_path = bfm_dir / "facemodel_info.mat"
    info = _read_mat(info_path)
    for key in INFO_KEYS:
        if key not in info:
            raise InputError(f"{info_path}: missing key '{key}'")
        values = np.asarray(info[key])
        arrays[key] = values.astype(np.float32) if key == "skinmask" else values.astype(np.int32)
    check_model_arrays(arrays, str(info_path))
    return arrays
