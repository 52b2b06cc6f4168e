"""A pickle reader for untrusted numpy data: arrays, dtypes, scalars and plain containers.

``pickle.Unpickler.find_class`` is the only way a pickle reaches a callable, so
:class:`RestrictedUnpickler` resolves just the names numpy uses to pickle arrays,
dtypes and scalars. Those names are not handed to numpy directly either: numpy's
``ndarray.__setstate__``, ``dtype.__setstate__`` and ``scalar`` trust their arguments, and
a corrupted pickle can crash the interpreter through them (a fuzzed MMSA pickle did,
with numpy 2.4). Each allowed name resolves to a stub that records its arguments.
After loading, :func:`_finalize` checks every recorded dtype, shape and buffer size and
builds the arrays with ``np.frombuffer``, so malformed input raises ValueError instead.

Supported dtype kinds: bool, signed and unsigned integers, floats, complex, bytes (``S``),
unicode (``U``) and object arrays whose items are themselves plain data.
"""

from __future__ import annotations

import io
import math
import pickle
from typing import Any

import numpy as np

_DTYPE_KINDS = set("biufcSUO")
_BYTE_ORDERS = set("<>=|")


class UnsafePickleError(ValueError):
    """A pickle that references something other than numpy arrays and plain containers."""


class _DtypeStub:
    """The arguments of a pickled ``numpy.dtype(spec, align, copy)`` and its state."""

    def __init__(self, spec: Any = None, *args: Any) -> None:
        self.spec = spec
        self.byte_order = "="
        self._dtype: np.dtype | None = None

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in _BYTE_ORDERS:
            self.byte_order = state[1]
        else:
            raise ValueError(f"invalid dtype state {state!r:.80}")

    def resolve(self) -> np.dtype:
        if self._dtype is None:
            if not isinstance(self.spec, str) or not self.spec or self.spec[0] not in _DTYPE_KINDS:
                raise ValueError(f"unsupported dtype {self.spec!r:.40}: only plain numeric, "
                                 "string and object dtypes are accepted")
            try:
                dtype = np.dtype(self.spec)
            except TypeError as error:
                raise ValueError(f"invalid dtype {self.spec!r:.40} ({error})") from None
            if dtype.fields is not None or dtype.subdtype is not None:
                raise ValueError(f"structured dtype {self.spec!r:.40} is not accepted")
            if self.byte_order in "<>":
                dtype = dtype.newbyteorder(self.byte_order)
            self._dtype = dtype
        return self._dtype


def _resolve_dtype(value: Any) -> np.dtype:
    if isinstance(value, _DtypeStub):
        return value.resolve()
    raise ValueError(f"expected a dtype, found {type(value).__name__}")


def _checked_shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"invalid array shape {shape!r:.80}")
    return shape


def _array_from(raw: Any, dtype: np.dtype, shape: tuple[int, ...], fortran: bool) -> np.ndarray:
    count = math.prod(shape)
    order = "F" if fortran else "C"
    if dtype.hasobject:
        if not isinstance(raw, list) or len(raw) != count:
            raise ValueError(f"object array of shape {shape} needs a list of {count} items")
        array = np.empty(count, dtype=object)
        array[:] = raw
        return array.reshape(shape, order=order)
    if isinstance(raw, str):
        # Protocol-0/2 pickles carry the buffer as a latin-1 string.
        raw = raw.encode("latin-1")
    if not isinstance(raw, (bytes, bytearray)):
        raise ValueError(f"array data must be bytes, found {type(raw).__name__}")
    if len(raw) != count * dtype.itemsize:
        raise ValueError(f"array of shape {shape} and dtype {dtype} needs "
                         f"{count * dtype.itemsize} bytes, found {len(raw)}")
    return np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order=order).copy()


class _ArrayStub:
    """A pickled ``_reconstruct(ndarray, ...)`` whose state is checked before use."""

    def __init__(self, subtype: Any, shape: Any, dtype_code: Any) -> None:
        if subtype is not _NDARRAY_TOKEN:
            raise ValueError("only plain numpy.ndarray objects are accepted")
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5):
            raise ValueError(f"invalid array state of type {type(state).__name__}")
        _, shape, dtype, fortran, raw = state
        self.array = _array_from(raw, _resolve_dtype(dtype), _checked_shape(shape), bool(fortran))


class _NdarrayToken:
    """The marker that the name ``numpy.ndarray`` resolves to. It is never called."""


_NDARRAY_TOKEN = _NdarrayToken()


def _scalar(dtype: Any, data: Any = None) -> Any:
    resolved = _resolve_dtype(dtype)
    if resolved.hasobject:
        return data
    if isinstance(data, str):
        data = data.encode("latin-1")
    if not isinstance(data, (bytes, bytearray)) or len(data) != resolved.itemsize:
        raise ValueError(f"invalid {resolved} scalar data")
    return np.frombuffer(bytes(data), dtype=resolved)[0]


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if isinstance(buffer, (pickle.PickleBuffer, memoryview)):
        buffer = bytes(buffer)
    resolved = _resolve_dtype(dtype)
    if resolved.hasobject:
        raise ValueError("object arrays cannot come from a raw buffer")
    return _array_from(buffer, resolved, _checked_shape(shape), order == "F")


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    # Protocol-2 pickles of bytes call codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError("only latin-1 encoding of strings is accepted")
    return text.encode("latin-1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY_TOKEN,
    ("numpy", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _encode,
}
# Pickles written by numpy 1.x name numpy.core; numpy 2 names numpy._core.
for _package in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_package}.multiarray", "_reconstruct")] = _ArrayStub
    _ALLOWED[(f"{_package}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_package}.numeric", "_frombuffer")] = _frombuffer


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy's array, dtype and scalar names, to stubs.

    Use :func:`loads_restricted`, which also turns the stubs into checked arrays.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"the pickle references {module}.{name}, which is not a numpy array, "
                "dtype or plain container, so it was rejected without running anything"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("the pickle uses persistent ids, which are not allowed")


def _finalize(value: Any, seen: dict[int, Any]) -> Any:
    """Return ``value`` with every stub replaced by its checked numpy object."""
    key = id(value)
    if key in seen:
        return seen[key]
    if isinstance(value, _ArrayStub):
        if value.array is None:
            raise ValueError("an array in the pickle has no data")
        array = value.array
        if array.dtype.hasobject:
            flat = array.reshape(-1, order="A")
            for index in range(flat.size):
                flat[index] = _finalize(flat[index], seen)
        result: Any = array
    elif isinstance(value, np.ndarray) and not value.dtype.hasobject:
        # Built by _frombuffer from a checked buffer.
        result = value
    elif isinstance(value, _DtypeStub):
        result = value.resolve()
    elif isinstance(value, _NdarrayToken) or (callable(value) and not isinstance(value, type)):
        raise ValueError("the pickle returns a callable, not data")
    elif isinstance(value, dict):
        result = {}
        seen[key] = result
        for item_key, item in value.items():
            result[_finalize(item_key, seen)] = _finalize(item, seen)
    elif isinstance(value, list):
        result = []
        seen[key] = result
        result.extend(_finalize(item, seen) for item in value)
    elif isinstance(value, tuple):
        result = tuple(_finalize(item, seen) for item in value)
    elif isinstance(value, (set, frozenset)):
        result = type(value)(_finalize(item, seen) for item in value)
    elif isinstance(value, (str, bytes, bytearray, int, float, complex, bool, type(None),
                            np.generic)):
        result = value
    elif isinstance(value, type):
        raise ValueError(f"the pickle returns the type {value.__name__}, not data")
    else:
        raise ValueError(f"unexpected {type(value).__name__} in the pickle")
    seen[key] = result
    return result


def loads_restricted(payload: bytes) -> Any:
    """Unpickle ``payload`` allowing only numpy arrays, dtypes, scalars and plain data.

    Raises UnsafePickleError for any other global and ValueError (or the unpickler's own
    exceptions, which the caller should treat as invalid input) for malformed data.
    """
    loaded = RestrictedUnpickler(io.BytesIO(payload)).load()
    return _finalize(loaded, {})
