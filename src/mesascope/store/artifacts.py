"""Files beside the database: arrays and parameters as safetensors, rollouts as GIFs.

Every write goes to a temporary file in the target folder, is fsynced and then renamed onto the
target, so a crash leaves the old file or the new one, never half of one. Nothing here uses
pickle: arrays go through safetensors, structure and metadata through JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageSequence
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

PARAMS_FORMAT = "mesascope-params"
PARAMS_FORMAT_VERSION = 1

# The dtypes safetensors.numpy can write.
_SAFETENSORS_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        "float64", "float32", "float16",
        "int64", "int32", "int16", "int8",
        "uint64", "uint32", "uint16", "uint8",
        "bool", "complex64",
    )
)


def json_default(obj: Any) -> Any:
    """`json.dumps(default=...)` hook: NumPy scalars and arrays become plain Python values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON-serialisable")


def dumps_json(obj: Any, *, canonical: bool = False) -> str:
    """Serialise `obj` to JSON (NaN and infinities allowed, NumPy values converted).

    With `canonical=True` keys are sorted and separators are compact, so equal data gives equal
    text (what run ids hash)."""
    if canonical:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default
        )
    return json.dumps(obj, ensure_ascii=False, default=json_default)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; on success fsync it and rename it onto
    `path`. On an exception the temporary file is removed and `path` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened this way on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checked_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype not in _SAFETENSORS_DTYPES:
        supported = ", ".join(sorted(d.name for d in _SAFETENSORS_DTYPES))
        raise TypeError(
            f"array {name!r} has dtype {arr.dtype}, which safetensors cannot store "
            f"(supported: {supported})"
        )
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def save_arrays(
    path: str | Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None
) -> Path:
    """Write named arrays (and string metadata) to a safetensors file, atomically.

    Raises TypeError naming the offending key for a non-string name or metadata value, or an
    array dtype safetensors cannot store. Returns the path written."""
    tensors: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"array names must be strings, got {name!r}")
        tensors[name] = _checked_array(name, value)
    meta: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"safetensors metadata must map strings to strings; got {key!r}: "
                f"{type(value).__name__}"
            )
        meta[key] = value
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(_canonical(save(tensors, metadata=meta or None)))
    return path


def _canonical(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted: safetensors writes the
    metadata in hash-map order, so equal arrays and metadata could give different bytes (and
    hashes). The tensor bytes and their offsets are unchanged."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    if isinstance(header.get("__metadata__"), dict):
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    return struct.pack("<Q", len(text)) + text + data[8 + length :]


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a manifest or index file; ValueError naming the file otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the file is corrupt") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a JSON object, got {type(data).__name__}")
    return data


def load_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file written by `save_arrays`: (name -> array, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no safetensors file at {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = dict(f.metadata() or {})
            arrays = {name: f.get_tensor(name) for name in f.keys()}
    except SafetensorError as err:
        raise ValueError(f"{path} is not a readable safetensors file: {err}") from err
    return arrays, metadata


def _params_files(path_stem: str | Path) -> tuple[Path, Path]:
    # Appended, not with_suffix: a stem like "agent.v2" must keep its dot.
    stem = Path(path_stem)
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _flatten_params(
    tree: Mapping[str, Any],
    prefix: tuple[str, ...],
    order: list[tuple[str, ...]],
    leaves: dict[tuple[str, ...], np.ndarray],
) -> None:
    """Walk `tree` depth-first in sorted key order, recording every leaf and empty sub-dict path
    in `order`; sorted, so equal parameters give byte-identical files whatever order the dict
    was built in (a worker's decoded tree and the in-process one differ in insertion order)."""
    if not tree and prefix:
        order.append(prefix)
    for key, value in sorted(tree.items(), key=lambda item: str(item[0])):
        where = "/".join(prefix + (str(key),))
        if not isinstance(key, str):
            raise TypeError(f"params key {key!r} at {where!r} is not a string")
        if "/" in key:
            raise ValueError(f"params key {key!r} at {where!r} contains '/', the path separator")
        if isinstance(value, Mapping):
            _flatten_params(value, prefix + (key,), order, leaves)
        elif value is None:
            raise TypeError(f"params leaf at {where!r} is None, not an array")
        else:
            leaves[prefix + (key,)] = _checked_array(where, value)
            order.append(prefix + (key,))


def save_params(
    path_stem: str | Path, params: Mapping[str, Any], manifest: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Save a nested dict of arrays (e.g. Flax params, with or without a leading population
    axis) as `<stem>.safetensors` plus a JSON manifest `<stem>.json`.

    The safetensors keys are the '/'-joined paths. The manifest records the tree as the list of
    key paths in sorted order (leaves and empty sub-dicts, the latter also listed under "empty"), each
    leaf's dtype and shape, the weights file's SHA-256 and the caller's `manifest` (JSON-able).
    The weights are written first and the manifest last; weights that do not match their
    manifest (a crash between the two) are refused by `load_params`.
    Returns (weights path, manifest path)."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a nested mapping of arrays, got {type(params).__name__}")
    order: list[tuple[str, ...]] = []
    leaves: dict[tuple[str, ...], np.ndarray] = {}
    _flatten_params(params, (), order, leaves)
    try:
        user = json.loads(dumps_json(dict(manifest or {})))
    except (TypeError, ValueError) as err:
        raise TypeError(f"params manifest is not JSON-serialisable: {err}") from err
    weights_path, manifest_path = _params_files(path_stem)
    names = {"/".join(key): arr for key, arr in leaves.items()}
    save_arrays(weights_path, names, {"format": PARAMS_FORMAT})
    record = {
        "format": PARAMS_FORMAT,
        "version": PARAMS_FORMAT_VERSION,
        "keys": [list(key) for key in order],
        "dtypes": {name: arr.dtype.name for name, arr in names.items()},
        "shapes": {name: list(arr.shape) for name, arr in names.items()},
        "empty": [list(key) for key in order if key not in leaves],
        "sha256": sha256_file(weights_path),
        "manifest": user,
    }
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    return weights_path, manifest_path


def _set_path(tree: dict[str, Any], key: list[str], value: Any) -> None:
    node = tree
    for part in key[:-1]:
        node = node.setdefault(part, {})
    node[key[-1]] = value


def load_params(path_stem: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load what `save_params` wrote: (nested dict of NumPy arrays, the caller's manifest).

    Checks the manifest's format, the weights' SHA-256, and every key, dtype and shape; raises
    ValueError naming the file and the mismatch otherwise."""
    weights_path, manifest_path = _params_files(path_stem)
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no params manifest at {manifest_path}")
    record = read_json(manifest_path)
    if record.get("format") != PARAMS_FORMAT:
        raise ValueError(f"{manifest_path} is not a {PARAMS_FORMAT} manifest")
    if record.get("version") != PARAMS_FORMAT_VERSION:
        raise ValueError(
            f"{manifest_path} has params format version {record.get('version')!r}; "
            f"this mesascope reads version {PARAMS_FORMAT_VERSION}"
        )
    missing = [key for key in ("sha256", "keys", "empty", "dtypes", "shapes", "manifest") if key not in record]
    if missing:
        raise ValueError(f"{manifest_path} lacks {missing}; the manifest is incomplete or corrupt")
    if not weights_path.is_file():
        raise FileNotFoundError(f"no params weights at {weights_path} (manifest {manifest_path})")
    digest = sha256_file(weights_path)
    if digest != record["sha256"]:
        raise ValueError(
            f"{weights_path} does not match its manifest (sha256 {digest[:12]}..., "
            f"expected {record['sha256'][:12]}...); the file is corrupt or was replaced"
        )
    arrays, _ = load_arrays(weights_path)
    empty = {tuple(key) for key in record["empty"]}
    keys = [list(key) for key in record["keys"] if tuple(key) not in empty]
    expected = {"/".join(key) for key in keys}
    if set(arrays) != expected:
        raise ValueError(
            f"{weights_path} holds keys {sorted(arrays)} but its manifest lists {sorted(expected)}"
        )
    tree: dict[str, Any] = {}
    for key in record["keys"]:
        if tuple(key) in empty:
            _set_path(tree, key, {})
            continue
        name = "/".join(key)
        arr = arrays[name]
        if arr.dtype.name != record["dtypes"][name] or list(arr.shape) != record["shapes"][name]:
            raise ValueError(
                f"params leaf {name!r} in {weights_path} is {arr.dtype}{list(arr.shape)}, "
                f"manifest says {record['dtypes'][name]}{record['shapes'][name]}"
            )
        _set_path(tree, key, arr)
    return tree, record["manifest"]


def _checked_frames(frames: Any, what: str) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        raise TypeError(f"{what} must be uint8 frames, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[-1] != 3 or 0 in arr.shape:
        raise ValueError(f"{what} must have shape (T, h, w, 3) with T, h, w >= 1, got {arr.shape}")
    return arr


def save_gif(path: str | Path, frames: np.ndarray, fps: float = 6) -> Path:
    """Write (T, h, w, 3) uint8 frames as a looping GIF, atomically. Returns the path.

    GIF stores durations in hundredths of a second, so the frame time is rounded to 10 ms.
    Pillow merges identical consecutive frames into one longer frame; `load_gif` with the frame
    count undoes that."""
    arr = _checked_frames(frames, f"frames for {Path(path).name}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    frame_ms = max(10, round(100 / fps) * 10)
    images = [Image.fromarray(np.ascontiguousarray(frame)) for frame in arr]
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=frame_ms, loop=0
        )
    return path


def load_gif(path: str | Path, frames: int | None = None) -> np.ndarray:
    """Read a GIF as (T, h, w, 3) uint8 frames.

    With `frames` given, frames Pillow merged on writing (identical consecutive ones) are
    repeated according to their durations so exactly `frames` come back; ValueError if that is
    not possible. Colours may differ slightly from what was saved (GIF palettes hold 256)."""
    path = Path(path)
    images: list[np.ndarray] = []
    durations: list[float] = []
    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            images.append(np.asarray(frame.convert("RGB"), dtype=np.uint8))
            durations.append(float(frame.info.get("duration", 0) or 0))
    if frames is None or frames == len(images):
        return np.stack(images)
    total = sum(durations)
    if frames < len(images) or total <= 0:
        raise ValueError(f"{path} holds {len(images)} frames, expected {frames}")
    unit = total / frames
    repeats = [max(1, round(d / unit)) for d in durations]
    if sum(repeats) != frames:
        raise ValueError(
            f"{path} holds {len(images)} frames whose durations do not expand to {frames}"
        )
    return np.stack([img for img, n in zip(images, repeats) for _ in range(n)])
