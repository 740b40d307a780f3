"""Runs inside the student's kernel, after the notebook: call the student's functions on the
judge's cases and send back plain data.

The judge (another process, which never runs student code) wrote the calls to make; this
module makes them and displays one message per exercise of MIME type :data:`MIME` with the
outcomes encoded by :mod:`rlcourse.grading._plain`. Nothing here is trusted: the judge checks
every field. While a student's function runs, the library's own answers for that exercise
are swapped for recording stand-ins (same result, call counted), so a function that calls
the library's answer, however indirectly, is reported; the objects the function reaches and
the bytecode of the code it holds are compared with the answer too.
"""

from __future__ import annotations

import copy
import dis
import functools
import importlib
import importlib.util
import os
import pickle
import signal
import sys
import types
from typing import Any

from rlcourse.grading._plain import MAX_BYTES, dumps, encode, type_label

MIME = "application/vnd.rlcourse.grading+json"
_WATCH = "__rlcourse_watch__"


class _Stop(BaseException):
    pass


def _answers(specs: list[tuple[str, str]]) -> list[types.FunctionType]:
    """The library's own function objects for ``specs`` (module, name), found by their code's
    file and name among the functions every loaded ``rlcourse`` module holds, so a notebook
    that replaced one module attribute does not hide the original."""
    wanted = {}
    for module, name in specs:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            wanted[(os.path.realpath(spec.origin), name)] = len(wanted)
    found: dict[int, types.FunctionType] = {}
    real: dict[str, str] = {}
    for mname, mod in list(sys.modules.items()):
        if not (mname == "rlcourse" or mname.startswith("rlcourse.")):
            continue
        for obj in list(getattr(mod, "__dict__", {}).values()):
            candidates = [obj, getattr(obj, "reference", None)]
            for f in candidates:
                if type(f) is not types.FunctionType or f.__code__.co_freevars:
                    continue
                code = f.__code__
                path = real.setdefault(code.co_filename, os.path.realpath(code.co_filename))
                key = (path, code.co_name)
                if key in wanted and f.__qualname__ == code.co_name:
                    found.setdefault(wanted[key], f)
    return [found[i] for i in sorted(found)]


class _Watch:
    """While active, each answer function counts its calls (and still returns its result)."""

    def __init__(self, answers: list[types.FunctionType]) -> None:
        self.answers = answers
        self.counts = [0] * len(answers)
        self.codes = [f.__code__ for f in answers]
        self.stand_ins: list[types.CodeType] = []
        self.clones: list[types.FunctionType] = []
        for i, f in enumerate(answers):
            clone = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__)
            clone.__kwdefaults__ = f.__kwdefaults__
            src = (
                "def stand_in(*args, **kwargs):\n"
                f"    box = {_WATCH}[{id(self)}]\n"
                f"    box.counts[{i}] += 1\n"
                f"    return box.clones[{i}](*args, **kwargs)\n"
            )
            ns: dict[str, Any] = {}
            exec(compile(src, "<rlcourse grading>", "exec"), ns)  # noqa: S102 — fixed source
            self.stand_ins.append(ns["stand_in"].__code__)
            f.__globals__.setdefault(_WATCH, {})[id(self)] = self
            self.clones.append(clone)

    def __enter__(self) -> _Watch:
        for f, code in zip(self.answers, self.stand_ins, strict=True):
            f.__code__ = code
        return self

    def __exit__(self, *exc: Any) -> None:
        for f, code in zip(self.answers, self.codes, strict=True):
            f.__code__ = code


_SKIP_OPS = {"NOP", "CACHE", "RESUME", "EXTENDED_ARG", "PRECALL"}


def fingerprint(code: types.CodeType) -> tuple:
    """What a function's code does, independent of line numbers, file and compiler details:
    its instructions (jump targets left out) and the names, constants and nested code they use."""
    ops: list[tuple] = []
    for ins in dis.get_instructions(code):
        if ins.opname in _SKIP_OPS:
            continue
        if ins.opname == "LOAD_METHOD":  # what a run of the code may have rewritten it to
            ops.append(("LOAD_ATTR", repr(ins.argval)))
        elif ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            ops.append((ins.opname,))
        elif isinstance(ins.argval, types.CodeType):
            ops.append((ins.opname, fingerprint(ins.argval)))
        elif ins.opcode in dis.hasconst and isinstance(ins.argval, str):
            ops.append((ins.opname, "str"))
        else:
            ops.append((ins.opname, repr(ins.argval)[:200]))
    return (code.co_argcount, code.co_kwonlyargcount, tuple(ops))


def _codes(code: types.CodeType) -> list[types.CodeType]:
    out = [code]
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += _codes(c)
    return out


def static_flags(obj: Any, answers: list[types.FunctionType]) -> list[dict[str, Any]]:
    """Which answers ``obj`` holds (a partial, a closure, a default, a global or module
    attribute its code names) and which it copies (same bytecode)."""
    prints = {fingerprint(f.__code__): i for i, f in enumerate(answers)}
    ids = {id(f): i for i, f in enumerate(answers)}
    flags: set[tuple[str, int]] = set()
    seen: set[int] = set()
    todo: list[tuple[Any, int]] = [(obj, 0)]
    while todo and len(seen) < 500:
        x, depth = todo.pop()
        if id(x) in seen or depth > 6:
            continue
        seen.add(id(x))
        if id(x) in ids:
            flags.add(("refers", ids[id(x)]))
            continue
        if isinstance(x, functools.partial):
            todo += [(x.func, depth + 1)] + [(a, depth + 1) for a in x.args]
            todo += [(v, depth + 1) for v in (x.keywords or {}).values()]
        elif isinstance(x, types.MethodType):
            todo.append((x.__func__, depth + 1))
        elif isinstance(x, types.FunctionType):
            if str(getattr(x, "__module__", "")).startswith("rlcourse"):
                continue
            for code in _codes(x.__code__):
                if fingerprint(code) in prints:
                    flags.add(("copies", prints[fingerprint(code)]))
                for name in code.co_names:
                    value = x.__globals__.get(name)
                    if isinstance(value, types.ModuleType):
                        for attr in code.co_names:
                            target = getattr(value, attr, None)
                            if id(target) in ids:
                                flags.add(("refers", ids[id(target)]))
                    elif value is not None:
                        todo.append((value, depth + 1))
            for cell in x.__closure__ or ():
                try:
                    todo.append((cell.cell_contents, depth + 1))
                except ValueError:
                    pass
            todo += [(d, depth + 1) for d in (x.__defaults__ or ())]
        elif isinstance(x, type) and x.__module__ == "__main__":
            todo += [(v, depth + 1) for v in vars(x).values()]
        elif not isinstance(x, (type, types.ModuleType)) and callable(x):
            todo.append((type(x), depth + 1))
    return [{"kind": k, "answer": i} for k, i in sorted(flags)]


def _frame(exc: BaseException) -> str:
    try:
        from rlcourse.exercises.framework import _student_frame

        return _student_frame(exc)[:300]
    except Exception:  # noqa: BLE001
        return ""


def _call(fn: Any, args: tuple, kwargs: dict, seconds: float, watch: _Watch) -> dict[str, Any]:
    def on_alarm(signum: int, frame: Any) -> None:
        raise _Stop

    args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with watch:
            value = fn(*args, **kwargs)
    except _Stop:
        return {"timeout": True}
    except NotImplementedError as exc:
        return {"raised": "NotImplementedError", "message": str(exc)[:500], "notimpl": True}
    except BaseException as exc:  # noqa: BLE001 — reported to the judge as text
        if isinstance(exc, KeyboardInterrupt):
            return {"timeout": True}
        return {
            "raised": type_label(type(exc).__name__),
            "message": str(exc)[:500],
            "frame": _frame(exc),
        }
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    try:
        text = dumps(encode(value))
    except Exception:  # noqa: BLE001
        return {"ok": {"opaque": type_label(type(value).__name__)}}
    if len(text) > MAX_BYTES // 4:
        return {"ok": {"opaque": "too large"}}
    return {"ok": encode(value)}


def _one(ns: dict[str, Any], ex: dict[str, Any]) -> dict[str, Any]:
    name = ex["name"]
    if name not in ns:
        return {"id": ex["id"], "status": "missing"}
    obj = ns[name]
    answers = _answers(ex["answers"])
    if ex["kind"] == "value" or not callable(obj):
        return {"id": ex["id"], "status": "value", "value": encode(obj)}
    flags = static_flags(obj, answers)
    watch = _Watch(answers)
    results, size = [], 0
    for a, k in ex["calls"]:
        r = _call(obj, a, k, ex["timeout"], watch) if size < MAX_BYTES // 2 else None
        if r is None or size + len(dumps(r)) > MAX_BYTES // 2:
            r = {"ok": {"opaque": "too large"}}
        size += len(dumps(r))
        results.append(r)
    flags += [{"kind": "calls", "answer": i} for i, n in enumerate(watch.counts) if n]
    return {"id": ex["id"], "status": "calls", "results": results, "flags": flags}


def serve(ns: dict[str, Any], path: str, nonce: str) -> None:
    """Run the calls the judge wrote to ``path`` and display one result per exercise, each
    carrying ``nonce`` (known only from the runner cell's source)."""
    from IPython.display import display

    with open(path, "rb") as fh:
        request = pickle.load(fh)  # noqa: S301 — written by the judge, read in the kernel
    for ex in request["exercises"]:
        try:
            out = _one(ns, ex)
        except BaseException as exc:  # noqa: BLE001
            out = {"id": ex["id"], "status": "error", "error": type_label(type(exc).__name__)}
        out["nonce"] = nonce
        display({MIME: out}, raw=True)
