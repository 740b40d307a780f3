"""Carry a student's objects out of their kernel into a fresh checking process.

Functions and classes a notebook defines live in ``__main__`` and cannot be pickled by
reference. :func:`dumps` pickles them *by value*: a function becomes its code object
(``marshal``), its defaults, its closure and the globals its code names; a class becomes its
name, bases and namespace. Modules and library functions go *by reference* (re-imported,
untouched, in the receiving process) — so a student's ``np.allclose = ...`` or
``rlcourse.mdp.bellman_backup = ...`` in the notebook does not travel with their answer.

Both ends must run the same Python (``marshal`` is version specific): the grader starts the
kernel with its own interpreter. Unpickling runs code chosen by the sender; the receiver is a
throw-away process for exactly that reason.
"""

from __future__ import annotations

import builtins
import io
import marshal
import pickle
import types
from typing import Any

__all__ = ["dumps", "loads"]

_BY_VALUE_MODULES = ("__main__",)
_EMPTY = "<empty cell>"


def _by_value(obj: Any) -> bool:
    """Objects defined in the notebook itself (``__main__``) go by value."""
    return getattr(obj, "__module__", None) in _BY_VALUE_MODULES


def _global_names(code: types.CodeType) -> set[str]:
    """Every name the code (and the code nested in it) may look up as a global."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared_globals: dict[int, dict[str, Any]] = {}

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.ModuleType):
            return _import_module, (obj.__name__,)
        if isinstance(obj, types.FunctionType) and _by_value(obj):
            return self._reduce_function(obj)
        if isinstance(obj, type) and _by_value(obj):
            return self._reduce_class(obj)
        return NotImplemented

    def _reduce_function(self, f: types.FunctionType) -> tuple:
        # all functions of one namespace share one globals dict on the other side, too
        shared = self._shared_globals.setdefault(id(f.__globals__), {})
        wanted = {
            name: f.__globals__[name]
            for name in sorted(_global_names(f.__code__))
            if name in f.__globals__ and name != "__builtins__"
        }
        picklable = {k: v for k, v in wanted.items() if _picklable(v)}
        closure = [_EMPTY if _cell_empty(c) else c.cell_contents for c in (f.__closure__ or ())]
        state = {
            "globals": picklable,
            "defaults": f.__defaults__,
            "kwdefaults": f.__kwdefaults__,
            "closure": closure,
            "dict": dict(f.__dict__),
            "qualname": f.__qualname__,
            "doc": f.__doc__,
        }
        args = (marshal.dumps(f.__code__), f.__name__, len(f.__code__.co_freevars), shared)
        return _function_skeleton, args, state, None, None, _set_function_state

    def _reduce_class(self, cls: type) -> tuple:
        skip = {"__dict__", "__weakref__"}
        namespace = {k: v for k, v in vars(cls).items() if k not in skip}
        args = (cls.__name__, cls.__bases__, type(cls))
        return _class_skeleton, args, namespace, None, None, _set_class_state


def _cell_empty(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 — probing the cell
    except ValueError:
        return True
    return False


def _picklable(value: Any) -> bool:
    """Whether a global can travel (plain data is tried; functions and modules always can)."""
    if isinstance(value, (types.FunctionType, types.ModuleType, type)):
        return True
    try:
        _Pickler(io.BytesIO()).dump(value)
    except Exception:  # noqa: BLE001 — anything unpicklable is simply left behind
        return False
    return True


def dumps(obj: Any) -> bytes:
    """Pickle ``obj``, carrying functions and classes of ``__main__`` by value."""
    buf = io.BytesIO()
    _Pickler(buf).dump(obj)
    return buf.getvalue()


def loads(data: bytes) -> Any:
    """The object :func:`dumps` pickled (runs the sender's code: use a throw-away process)."""
    return pickle.loads(data)


# ---- the receiving side ----------------------------------------------------------------------


def _import_module(name: str) -> types.ModuleType:
    import importlib

    return importlib.import_module(name)


def _function_skeleton(
    code_bytes: bytes, name: str, n_free: int, shared: dict[str, Any]
) -> types.FunctionType:
    code = marshal.loads(code_bytes)
    shared.setdefault("__builtins__", builtins)
    shared.setdefault("__name__", "__main__")
    closure = tuple(types.CellType() for _ in range(n_free)) or None
    return types.FunctionType(code, shared, name, None, closure)


def _set_function_state(f: types.FunctionType, state: dict[str, Any]) -> None:
    for key, value in state["globals"].items():
        f.__globals__.setdefault(key, value)
    f.__defaults__ = state["defaults"]
    f.__kwdefaults__ = state["kwdefaults"]
    f.__qualname__ = state["qualname"]
    f.__doc__ = state["doc"]
    f.__dict__.update(state["dict"])
    for cell, value in zip(f.__closure__ or (), state["closure"], strict=True):
        if not (isinstance(value, str) and value == _EMPTY):
            cell.cell_contents = value


def _class_skeleton(name: str, bases: tuple[type, ...], metaclass: type) -> type:
    return metaclass(name, bases, {"__module__": "__main__"})


def _set_class_state(cls: type, namespace: dict[str, Any]) -> None:
    for key, value in namespace.items():
        if key not in ("__doc__",):
            try:
                setattr(cls, key, value)
            except (AttributeError, TypeError):
                pass
