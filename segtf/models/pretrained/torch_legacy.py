"""Reads tensors from a legacy (pre-1.6, non-zip) PyTorch `.pth` file without torch.

A `.pth` file is a pickle, and unpickling runs whatever callables it names. This reader allows
exactly the globals a plain state dict needs (an ordered dict, the tensor rebuild function and
the storage types) and refuses everything else, so a tampered or foreign file raises
`UnsafeWeightsError` instead of running code.

Legacy layout: five pickles (magic number, protocol version, system info, the object with
storages as persistent ids, the storage keys in order) followed by each storage's raw bytes,
each preceded by its element count as a little-endian int64.
"""

from __future__ import annotations

import collections
import hashlib
import io
import pickle
import struct

import numpy as np

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafeWeightsError(ValueError):
    """The weights file is not a plain tensor state dict (or is damaged)."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor view into a storage that is filled in after the pickle is read."""

    def __init__(self, storage_key, offset, size, stride):
        self.storage_key, self.offset = storage_key, offset
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_unused):
    return _TensorRef(storage, storage_offset, size, stride)


class _TensorOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path
        self.storages: dict[str, tuple[np.dtype, int]] = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeWeightsError(
            f"{self.path}: refuses to load {module}.{name}: only tensor state dicts are read "
            "(the file may be tampered with or is not a weights file)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnsafeWeightsError(f"{self.path}: unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeWeightsError(f"{self.path}: storage of unknown type {storage_type!r}")
        self.storages[key] = (storage_type.dtype, int(numel))
        return key


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_storages(f, path: str, keys: list, storages: dict) -> dict[str, np.ndarray]:
    arrays = {}
    for key in keys:
        if key not in storages:
            raise UnsafeWeightsError(f"{path}: storage {key!r} is listed but never used")
        dtype, numel = storages[key]
        header = f.read(8)
        if len(header) != 8:
            raise UnsafeWeightsError(f"{path}: file ends early (truncated download?)")
        (count,) = struct.unpack("<q", header)
        if count != numel:
            raise UnsafeWeightsError(f"{path}: storage {key!r} has {count} elements, not {numel}")
        data = f.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise UnsafeWeightsError(f"{path}: file ends early (truncated download?)")
        arrays[key] = np.frombuffer(data, dtype=dtype)
    return arrays


def _materialise(ref: _TensorRef, arrays: dict) -> np.ndarray:
    flat = arrays[ref.storage_key]
    itemsize = flat.dtype.itemsize
    if not ref.size:
        return flat[ref.offset].copy()
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :],
        shape=ref.size,
        strides=[s * itemsize for s in ref.stride],
        writeable=False,
    )
    return np.array(view)


def load_state_dict(path: str, expected_sha256_prefix: str | None = None) -> dict[str, np.ndarray]:
    """Returns `{name: numpy array}` from a legacy `.pth` state dict, checking its sha256."""
    if expected_sha256_prefix:
        actual = sha256_of(path)
        if not actual.startswith(expected_sha256_prefix):
            raise UnsafeWeightsError(
                f"{path}: sha256 {actual[:16]}... does not start with {expected_sha256_prefix}; "
                "the file was changed or damaged: reinstall the package that ships it"
            )
    with open(path, "rb") as raw:
        f = io.BufferedReader(raw)
        unpickler = _TensorOnlyUnpickler(f, path)
        try:
            if pickle.load(f) != _MAGIC:
                raise UnsafeWeightsError(f"{path}: not a legacy PyTorch weights file")
            if pickle.load(f) != _PROTOCOL:
                raise UnsafeWeightsError(f"{path}: unsupported PyTorch file protocol")
            _TensorOnlyUnpickler(f, path).load()  # system info: plain dict of ints/bools
            state = unpickler.load()
            keys = _TensorOnlyUnpickler(f, path).load()
        except UnsafeWeightsError:
            raise
        except Exception as error:  # any other unpickling failure is a damaged file
            raise UnsafeWeightsError(f"{path}: cannot read weights ({error})") from None
        if not isinstance(state, dict) or not isinstance(keys, list):
            raise UnsafeWeightsError(f"{path}: does not hold a state dict")
        arrays = _read_storages(f, path, keys, unpickler.storages)
    tensors = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise UnsafeWeightsError(f"{path}: entry {name!r} is not a tensor")
        tensors[name] = _materialise(ref, arrays)
    return tensors
