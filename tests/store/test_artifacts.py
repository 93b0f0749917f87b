"""Artifact files: safetensors arrays, parameter trees with manifests, GIFs, atomic writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mesascope.store import artifacts as art


def make_params() -> dict:
    rng = np.random.default_rng(1)
    return {
        "params": {
            "Dense_0": {
                "kernel": rng.normal(size=(8, 3, 16)).astype(np.float32),  # population axis 8
                "bias": np.full((8, 16), -0.0, np.float32),
            },
            "Conv_0": {"kernel": rng.normal(size=(8, 3, 3, 2, 4)), "scale": np.float16([1.5])},
            "empty": {},
        },
        "step": np.array(7, np.int64),
        "mask": np.array([True, False]),
    }


def assert_same_tree(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)  # files keep keys sorted, not in insertion order
    for key in a:
        if isinstance(a[key], dict):
            assert isinstance(b[key], dict), key
            assert_same_tree(a[key], b[key])
        else:
            assert a[key].dtype == b[key].dtype, key
            assert a[key].shape == b[key].shape, key
            assert a[key].tobytes() == b[key].tobytes(), key  # bit-exact


def test_params_round_trip_is_bit_exact(tmp_path: Path) -> None:
    params = make_params()
    params["params"]["Dense_0"]["kernel"][0, 0, 0] = np.nan
    manifest = {"world": "keys", "agents": 8, "lr": 3e-4, "seeds": np.arange(3)}
    weights, manifest_path = art.save_params(tmp_path / "agent.v1", params, manifest)
    assert weights == tmp_path / "agent.v1.safetensors"
    assert manifest_path == tmp_path / "agent.v1.json"
    loaded, user = art.load_params(tmp_path / "agent.v1")
    assert_same_tree(params, loaded)
    assert user == {"world": "keys", "agents": 8, "lr": 3e-4, "seeds": [0, 1, 2]}
    record = json.loads(manifest_path.read_text())
    assert ["params", "Dense_0", "kernel"] in record["keys"] and record["keys"] == sorted(record["keys"])
    assert record["shapes"]["params/Dense_0/kernel"] == [8, 3, 16]
    assert record["dtypes"]["params/Conv_0/scale"] == "float16"


def test_params_from_jax_arrays(tmp_path: Path) -> None:
    jnp = pytest.importorskip("jax.numpy")
    params = {"w": jnp.arange(6, dtype=jnp.float32).reshape(2, 3)}
    art.save_params(tmp_path / "p", params)
    loaded, user = art.load_params(tmp_path / "p")
    assert user == {}
    assert isinstance(loaded["w"], np.ndarray)
    np.testing.assert_array_equal(loaded["w"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_params_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'a/b'.*separator"):
        art.save_params(tmp_path / "p", {"a/b": np.zeros(1)})
    with pytest.raises(TypeError, match="'x/y'.*None"):
        art.save_params(tmp_path / "p", {"x": {"y": None}})
    with pytest.raises(TypeError, match="'o'.*dtype object"):
        art.save_params(tmp_path / "p", {"o": np.array([object()])})
    assert not list(tmp_path.iterdir())  # nothing half-written

    art.save_params(tmp_path / "p", {"w": np.ones(4, np.float32)})
    weights = tmp_path / "p.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt"):
        art.load_params(tmp_path / "p")
    with pytest.raises(FileNotFoundError, match="manifest"):
        art.load_params(tmp_path / "missing")


def test_arrays_round_trip_with_metadata(tmp_path: Path) -> None:
    arrays = {
        "returns/train": np.array([[1.0, np.nan], [np.inf, -2.5]]),
        "counts": np.arange(5, dtype=np.uint8),
        "empty": np.zeros((2, 0, 3), np.float32),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
    }
    path = art.save_arrays(tmp_path / "a.safetensors", arrays, {"order": json.dumps(["x"])})
    loaded, meta = art.load_arrays(path)
    assert meta == {"order": '["x"]'}
    assert set(loaded) == set(arrays)
    for name, arr in arrays.items():
        assert loaded[name].dtype == arr.dtype
        np.testing.assert_array_equal(loaded[name], arr)
    with pytest.raises(TypeError, match="metadata"):
        art.save_arrays(tmp_path / "b.safetensors", {}, {"n": 3})  # type: ignore[dict-item]
    (tmp_path / "c.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        art.load_arrays(tmp_path / "c.safetensors")


def test_gif_round_trip_shape_and_merged_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frames = np.zeros((5, 8, 9, 3), np.uint8)
    frames[:, :4] = (255, 0, 0)
    frames[1, 4:] = (0, 0, 255)
    frames[2] = frames[1]
    frames[3] = frames[1]  # three identical frames in a row get merged by Pillow
    frames[4] = rng.integers(0, 2, size=(8, 9, 1), dtype=np.uint8) * 255
    path = art.save_gif(tmp_path / "g.gif", frames, fps=6)
    assert path.read_bytes()[:6] == b"GIF89a"
    raw = art.load_gif(path)
    assert raw.shape[0] < 5  # proves the merge happened, so the expansion below is exercised
    loaded = art.load_gif(path, frames=5)
    assert loaded.shape == frames.shape and loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, frames)  # few colours: the palette is exact here
    with pytest.raises(ValueError, match="expected 2"):
        art.load_gif(path, frames=2)
    with pytest.raises(TypeError, match="uint8"):
        art.save_gif(tmp_path / "h.gif", frames.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(T, h, w, 3\)"):
        art.save_gif(tmp_path / "h.gif", frames[..., :2])


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with art.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    with art.atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert art.sha256_file(target) == hashlib.sha256(b"new").hexdigest()


def test_params_files_do_not_depend_on_the_order_the_tree_was_built_in(tmp_path: Path) -> None:
    """A population decoded in a worker and the same one built in process hold their keys in
    different orders; their files must be byte-identical all the same."""
    params = make_params()
    backwards = {key: params[key] for key in reversed(list(params))}
    backwards["params"] = dict(reversed(list(params["params"].items())))
    assert list(backwards["params"]) != list(params["params"])
    art.save_params(tmp_path / "a", params, {"n": 1})
    art.save_params(tmp_path / "b", backwards, {"n": 1})
    for suffix in (".safetensors", ".json"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
