"""Plain data out of a student's kernel: JSON that can only ever decode to data.

The kernel encodes what a student's function returned with :func:`encode`; the judge decodes
it with :func:`decode`, which builds nothing but ``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, ``list``, ``tuple``, ``dict`` (string keys), NumPy scalars and NumPy
arrays of numeric or boolean dtype (``np.frombuffer`` of base64 bytes, never pickle). Every
field is checked; sizes, nesting and counts are bounded; anything else is a :class:`PlainError`.
A value the encoder cannot represent travels as its type name only and decodes to an
:class:`Opaque` stand-in, so a check can still say "expected an array, got a value of type X".
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "Opaque", "PlainError", "decode", "dumps", "encode", "loads"]

MAX_BYTES = 64 * 2**20  # one message from the kernel
MAX_DEPTH = 20
MAX_ITEMS = 100_000
MAX_STR = 10_000
_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_NAME = re.compile(r"[^A-Za-z0-9_.]")


class PlainError(ValueError):
    """Data from the kernel that is not plain data of the expected form."""


class Opaque:
    """Stands for a value the kernel could not send (only its type name travelled)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def type_label(name: Any) -> str:
    """A safe, short type name (letters, digits, ``_`` and ``.``)."""
    text = _NAME.sub("_", str(name))[:60]
    return text or "object"


# ---- encoding (in the kernel) ----------------------------------------------------------------


def encode(x: Any, depth: int = 0) -> Any:
    """``x`` as JSON-ready plain data (unsupported values become ``{"opaque": type}``)."""
    if depth > MAX_DEPTH:
        return {"opaque": "nested too deeply"}
    t = type(x)
    if x is None or t is bool or t is str:
        return x if t is not str else x[:MAX_STR]
    if t is int:
        return x if abs(x) < 2**63 else float(x)
    if t is float:
        return x if math.isfinite(x) else {"float": repr(x)}
    if t is complex:
        return {"complex": [encode(x.real), encode(x.imag)]}
    if x is Ellipsis:
        return {"ellipsis": True}
    if isinstance(x, np.generic) and x.dtype.kind in _KINDS:
        return {"scalar": _array(np.asarray(x))}
    if isinstance(x, np.ndarray) and x.dtype.kind in _KINDS:
        return {"array": _array(np.asarray(x))}
    if t is list or t is tuple:
        items = [encode(v, depth + 1) for v in x[:MAX_ITEMS]]
        return {"list": items} if t is list else {"tuple": items}
    if t is dict and all(type(k) is str for k in x):
        return {"dict": {k[:MAX_STR]: encode(v, depth + 1) for k, v in list(x.items())[:MAX_ITEMS]}}
    return {"opaque": type_label(getattr(t, "__name__", "object"))}


def _array(a: np.ndarray) -> dict[str, Any]:
    a = np.array(a, order="C", copy=True)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def dumps(x: Any) -> str:
    """JSON text of ``x`` (already encoded)."""
    return json.dumps(x, allow_nan=False)


# ---- decoding (in the judge) -----------------------------------------------------------------


def loads(text: str | bytes) -> Any:
    """Parse JSON from the kernel (size-limited; no NaN literals; duplicate keys refused)."""
    if len(text) > MAX_BYTES:
        raise PlainError(f"message of {len(text)} bytes (the limit is {MAX_BYTES})")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            raise PlainError("duplicate keys")
        return out

    def bad_constant(name: str) -> Any:
        raise PlainError(f"unexpected JSON constant {name}")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant)
    except (ValueError, RecursionError) as exc:
        raise PlainError(f"not valid JSON: {type(exc).__name__}") from None


def decode(x: Any, depth: int = 0) -> Any:
    """The value :func:`encode` described, checked field by field."""
    if depth > MAX_DEPTH:
        raise PlainError("nested too deeply")
    if x is None or type(x) in (bool, int, float):
        return x
    if type(x) is str:
        if len(x) > MAX_STR:
            raise PlainError("string too long")
        return x
    if type(x) is not dict or len(x) != 1:
        raise PlainError(f"unexpected {type(x).__name__}")
    ((tag, body),) = x.items()
    if tag == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "complex" and type(body) is list and len(body) == 2:
        re_, im = decode(body[0], depth + 1), decode(body[1], depth + 1)
        if type(re_) is not float or type(im) is not float:
            raise PlainError("complex parts must be floats")
        return complex(re_, im)
    if tag == "ellipsis" and body is True:
        return Ellipsis
    if tag in ("list", "tuple") and type(body) is list:
        if len(body) > MAX_ITEMS:
            raise PlainError("too many items")
        items = [decode(v, depth + 1) for v in body]
        return items if tag == "list" else tuple(items)
    if tag == "dict" and type(body) is dict:
        if len(body) > MAX_ITEMS:
            raise PlainError("too many items")
        return {k: decode(v, depth + 1) for k, v in body.items()}
    if tag in ("array", "scalar"):
        a = _decode_array(body)
        return a[()] if tag == "scalar" and a.ndim == 0 else a
    if tag == "opaque" and type(body) is str:
        return Opaque(type_label(body))
    raise PlainError(f"unexpected field {type_label(tag)!r}")


def _decode_array(body: Any) -> np.ndarray:
    if type(body) is not dict or set(body) != {"dtype", "shape", "data"}:
        raise PlainError("an array needs exactly dtype, shape and data")
    dtype_text, shape, data = body["dtype"], body["shape"], body["data"]
    if type(dtype_text) is not str or not re.fullmatch(r"[<|][biufc][0-9]{1,2}", dtype_text):
        raise PlainError("unsupported array dtype")
    dtype = np.dtype(dtype_text)
    if dtype.kind not in _KINDS:
        raise PlainError("unsupported array dtype")
    if (
        type(shape) is not list
        or len(shape) > 32
        or not all(type(n) is int and 0 <= n <= MAX_BYTES for n in shape)
    ):
        raise PlainError("bad array shape")
    if type(data) is not str:
        raise PlainError("array data must be base64 text")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise PlainError("array data is not base64") from None
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw):
        raise PlainError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
