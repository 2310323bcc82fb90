import os
import stat
import time

import numpy as np
import pytest

from gsmoothface.atomic import atomic_dir, atomic_path, write_json, write_npz


def test_atomic_path_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "clip"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("new")
        raise RuntimeError("crash")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_outputs_get_the_usual_modes(tmp_path):
    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
        with atomic_dir(tmp_path / "d"):
            pass
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


def test_write_npz_is_byte_identical_whatever_the_clock(tmp_path, monkeypatch):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_npz(tmp_path / "a.npz", coeff=arr, name=np.array("fitter"))
    later = time.time() + 86_400 * 3
    monkeypatch.setattr(time, "time", lambda: later)
    write_npz(tmp_path / "b.npz", coeff=arr, name=np.array("fitter"))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "b.npz") as data:
        np.testing.assert_array_equal(data["coeff"], arr)
        assert str(data["name"]) == "fitter"
