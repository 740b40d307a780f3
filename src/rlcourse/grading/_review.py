"""Read the submitted source (never run it): what the kernel cannot hide.

The kernel runs student code, so whatever it reports could be forged by code written for
that purpose. The notebook file itself cannot: the judge reads the original. Two findings:

* **per exercise** — the cell that defines an exercise's name (``def value_iteration``, or
  ``value_iteration = ...``) names the library's own answer (``mdp.value_iteration``, or a
  name imported from it), or compiles to the same bytecode as the library's answer;
* **per notebook** — constructs that can change what the grader sees (``rlcourse.grading``,
  ``__code__``, ``__reduce__``, ``gc``, ``ctypes``, frame inspection, ``exec``/``eval``,
  ``__import__``, ``sys.modules``, ``os.kill``...). Cells the lesson itself contains are
  skipped. These are reported for review; they cost no points by themselves.
"""

from __future__ import annotations

import ast
import importlib
import types
from collections.abc import Iterable
from typing import Any

from rlcourse.grading._runner import fingerprint

__all__ = ["review"]

_SUSPICIOUS_ATTRS = {
    "__code__": "replaces or reads code objects (`__code__`)",
    "__globals__": "reaches into a function's globals (`__globals__`)",
    "__closure__": "reaches into closures (`__closure__`)",
    "__reduce__": "defines code that runs when an object is loaded (`__reduce__`)",
    "__reduce_ex__": "defines code that runs when an object is loaded (`__reduce_ex__`)",
    "__setstate__": "defines code that runs when an object is loaded (`__setstate__`)",
    "get_objects": "walks every live object (`gc.get_objects`)",
    "get_referrers": "walks every live object (`gc.get_referrers`)",
    "_getframe": "inspects the call stack (`sys._getframe`)",
    "currentframe": "inspects the call stack (`inspect.currentframe`)",
    "stack": "inspects the call stack (`inspect.stack`)",
    "f_back": "inspects the call stack (`f_back`)",
    "_current_frames": "inspects other threads' stacks (`sys._current_frames`)",
    "settrace": "traces execution (`settrace`)",
    "setprofile": "traces execution (`setprofile`)",
    "addaudithook": "hooks into the interpreter (`addaudithook`)",
    "events": "hooks into IPython's events",
    "input_transformers_post": "rewrites cells before they run",
    "input_transformers_cleanup": "rewrites cells before they run",
    "modules": "edits loaded modules (`sys.modules`)",
    "kill": "sends signals to processes (`os.kill`)",
    "killpg": "sends signals to processes (`os.killpg`)",
    "environ": "reads the environment (`os.environ`)",
    "fork": "starts processes (`os.fork`)",
    "setsid": "leaves its session (`os.setsid`)",
    "system": "runs shell commands (`os.system`)",
    "_exit": "ends the process (`os._exit`)",
}
_SUSPICIOUS_CALLS = {
    "exec": "runs generated code (`exec`)",
    "eval": "runs generated code (`eval`)",
    "compile": "compiles generated code (`compile`)",
    "__import__": "imports by computed name (`__import__`)",
    "setattr": "sets attributes by name (`setattr`)",
    "get_ipython": "reaches into IPython (`get_ipython`)",
    "display": "displays raw output (`display`)",
}
_SUSPICIOUS_MODULES = {
    "rlcourse.grading": "touches the grader (`rlcourse.grading`)",
    "ctypes": "uses `ctypes`",
    "gc": "uses the garbage collector (`gc`)",
    "importlib": "imports by computed name (`importlib`)",
    "builtins": "edits built-ins (`builtins`)",
    "signal": "handles signals (`signal`)",
    "threading": "starts threads (`threading`)",
    "multiprocessing": "starts processes (`multiprocessing`)",
    "subprocess": "starts processes (`subprocess`)",
    "IPython": "reaches into IPython",
}


def _python(source: str) -> str:
    """Cell source with IPython magics and shell lines blanked, so ``ast`` can read it."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _codes(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _codes(c)


def _answer_functions(answers: list[tuple[str, str]]) -> list[Any]:
    out = []
    for module, name in answers:
        try:
            out.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            out.append(None)
    return out


def review(
    cells: list[tuple[int, str]],
    exercises: list[tuple[str, str, list[tuple[str, str]]]],
) -> tuple[dict[str, list[str]], list[str]]:
    """``cells`` are (1-based index, source) of the student's code cells (the lesson's own
    cells left out); ``exercises`` (id, name, answers as (module, function)). Returns the
    flags per exercise id and the notebook-level notes."""
    flags: dict[str, list[str]] = {}
    notes: list[str] = []
    trees = []
    for index, source in cells:
        text = _python(source)
        try:
            trees.append((index, text, ast.parse(text)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    answer_names = {name for _q, _n, answers in exercises for _m, name in answers}
    # names bound to the library's answers by imports anywhere in the notebook
    aliases: dict[str, str] = {}
    for _index, _text, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rlcourse"):
                for a in node.names:
                    if a.name in answer_names:
                        aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for qid, name, answers in exercises:
        own = {fn for _m, fn in answers}
        found: set[str] = set()
        prints = {}
        for (module, fname), f in zip(answers, _answer_functions(answers), strict=True):
            if isinstance(f, types.FunctionType):
                prints[fingerprint(f.__code__)] = f"{module}.{fname}"
        for index, text, tree in trees:
            for node in ast.walk(tree):
                body: ast.AST | None = None
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                    body = node
                elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets
                ):
                    body = node.value
                if body is None:
                    continue
                for sub in ast.walk(body):
                    if isinstance(sub, ast.Attribute) and sub.attr in own:
                        found.add(f"names the library's own `{sub.attr}` (cell {index})")
                    elif isinstance(sub, ast.Name) and sub.id in aliases:
                        if aliases[sub.id].rsplit(".", 1)[-1] in own:
                            found.add(f"names the library's own `{aliases[sub.id]}` (cell {index})")
            if prints:
                try:
                    code = compile(text, f"<cell {index}>", "exec", dont_inherit=True)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue
                for c in _codes(code):
                    fp = fingerprint(c)
                    if c.co_name == name and fp in prints:
                        found.add(f"is a copy of the library's own `{prints[fp]}` (cell {index})")
        if found:
            flags[qid] = sorted(found)
    imported: set[str] = set()
    for _index, _text, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
    seen: set[str] = set()
    for index, _text, tree in trees:
        for node in ast.walk(tree):
            what = ""
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for t in targets:
                root = t
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(t, ast.Attribute) and isinstance(root, ast.Name):
                    if root.id in imported:
                        what = f"assigns into an imported module (`{ast.unparse(t)[:60]} = ...`)"
            if what:
                pass
            elif isinstance(node, ast.Attribute) and node.attr in _SUSPICIOUS_ATTRS:
                what = _SUSPICIOUS_ATTRS[node.attr]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                node.name in ("__reduce__", "__reduce_ex__", "__setstate__")
            ):
                what = _SUSPICIOUS_ATTRS[node.name]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _SUSPICIOUS_CALLS
            ):
                what = _SUSPICIOUS_CALLS[node.func.id]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and not isinstance(node.args[1], ast.Constant)
            ):
                what = "gets attributes by a computed name (`getattr`)"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom):
                    mods = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                for m in mods:
                    for key, text in _SUSPICIOUS_MODULES.items():
                        if m == key or m.startswith(key + "."):
                            what = text
            if what and what not in seen:
                seen.add(what)
                notes.append(f"cell {index} {what}")
    return flags, notes
