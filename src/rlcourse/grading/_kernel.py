"""Run a copy of a submission in a fresh kernel and carry the student's objects out.

The kernel is started with the grader's own interpreter, in a private folder holding the copy,
with ``RLCOURSE_PROGRESS`` pointing at a private file (so the hints the notebook asks for are
recorded there) and a cap on the size of any file it writes. Each code cell runs with a time
limit; errors do not stop the run. A cell that does not stop when interrupted, or that kills
the kernel, is skipped on a re-run in a new kernel, so the rest of the notebook still counts.
Outputs are counted and discarded: the grader never reads what the notebook printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

__all__ = ["CellProblem", "KernelRun", "run_notebook"]

KERNEL_NAME = "rlcourse-grader"
MAX_RUNS = 3  # first run + re-runs that skip a cell that hung or killed the kernel
PROBE_SECONDS = 3.0
TIMEOUT_ENAME = "rlcourse-cell-timeout"


class _GraderSpecs(KernelSpecManager):
    """One kernel spec: IPython on the grader's own interpreter (same Python, same rlcourse)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="rlcourse grader",
            language="python",
            metadata={"debugger": False},
        )


@dataclass(frozen=True)
class CellProblem:
    """Something that went wrong in one cell (``cell`` is its 1-based position)."""

    cell: int
    kind: str  # "error", "timeout", "killed", "output"
    text: str


@dataclass
class KernelRun:
    problems: list[CellProblem] = field(default_factory=list)
    payload: dict[str, Any] | None = None
    payload_error: str = ""
    hints: dict[str, int] = field(default_factory=dict)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def clean_text(text: str, work: Path, limit: int = 300) -> str:
    """One line, no memory addresses or private paths (so a re-run gives the same text)."""
    text = text.replace(str(work), "<submission folder>")
    text = _ADDRESS.sub("", " ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 60 else line[:57] + "..."
    return ""


class _Client(NotebookClient):
    """A notebook client that keeps no outputs, only how much each cell printed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.output_bytes: dict[int, int] = {}
        self.replies: dict[int, dict[str, Any]] = {}
        self.on_cell_executed = self._on_executed

    def _on_executed(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        if execute_reply is not None:
            self.replies[cell_index] = dict(execute_reply.get("content", {}))

    def output(self, outs: list, msg: dict[str, Any], display_id: Any, cell_index: int) -> None:
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(
            len(str(v)) for v in (content.get("data") or {}).values()
        )
        self.output_bytes[cell_index] = self.output_bytes.get(cell_index, 0) + size
        return None


_SETUP = """
import resource as _r, signal as _s
_s.signal(_s.SIGXFSZ, _s.SIG_IGN)
_r.setrlimit(_r.RLIMIT_FSIZE, ({cap}, {cap}))
del _r, _s
"""

_EXPORT = """
def __rlcourse_export__(names, path):
    import base64, json, linecache, types
    from rlcourse.grading._transfer import dumps
    ns = globals()
    out = {{}}
    sources = {{}}
    for value in list(ns.values()):
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType) and getattr(value, "__module__", "") == "__main__":
            fn = code.co_filename
            if fn not in sources:
                sources[fn] = "".join(linecache.getlines(fn))
    for name in names:
        if name not in ns:
            out[name] = {{"status": "missing"}}
            continue
        try:
            data = dumps(ns[name])
        except BaseException as exc:
            out[name] = {{"status": "error", "error": f"{{type(exc).__name__}}: {{exc}}"[:400]}}
            continue
        out[name] = {{"status": "ok", "pickle": base64.b64encode(data).decode("ascii")}}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({{"objects": out, "sources": sources}}, fh)

__rlcourse_export__({names!r}, {path!r})
del __rlcourse_export__
"""


def _hint_levels(progress_file: Path, lesson_id: str) -> dict[str, int]:
    from rlcourse.exercises.progress import read_progress

    levels: dict[str, int] = {}
    try:
        entries = read_progress(progress_file)
    except (OSError, ValueError):
        return levels
    for e in entries:
        if e.get("event") != "hint" or str(e.get("lesson")) != lesson_id:
            continue
        try:
            level = int(e.get("level", 0))
        except (TypeError, ValueError):
            continue
        qid = str(e["exercise"])
        levels[qid] = max(levels.get(qid, 0), level)
    return levels


class _Restart(Exception):
    def __init__(self, index: int, problem: CellProblem) -> None:
        super().__init__(problem.text)
        self.index = index
        self.problem = problem


def _one_run(
    nb: nbformat.NotebookNode,
    work: Path,
    names: list[str],
    skip: dict[int, CellProblem],
    timeout: float,
    output_cap: int,
    file_cap: int,
) -> KernelRun:
    """Run every code cell not in ``skip`` in one new kernel, then export ``names``."""
    run = KernelRun()
    n_student = len(nb.cells)
    setup_index, probe_index, export_index = n_student, n_student + 1, n_student + 2
    payload_path = work / ".rlcourse-payload.json"
    payload_path.unlink(missing_ok=True)
    nb = nbformat.from_dict(nb)
    nb.cells.extend(
        [
            nbformat.v4.new_code_cell(_SETUP.format(cap=int(file_cap))),
            nbformat.v4.new_code_cell("pass"),
            nbformat.v4.new_code_cell(_EXPORT.format(names=names, path=str(payload_path))),
        ]
    )
    km = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_GraderSpecs())
    client = _Client(
        nb,
        km=km,
        timeout=max(1, round(timeout)),
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        iopub_timeout=2,
        startup_timeout=60,
        shutdown_kernel="immediate",
        record_timing=False,
    )
    env = dict(os.environ)
    env.update(
        RLCOURSE_PROGRESS=str(work / ".rlcourse-progress.jsonl"),
        MPLBACKEND="Agg",
        PYTHONHASHSEED="0",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    with client.setup_kernel(
        env=env,
        cwd=str(work),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cleanup_kc=True,
    ):
        client.execute_cell(nb.cells[setup_index], setup_index, store_history=False)
        for index in range(n_student):
            cell = nb.cells[index]
            if cell.cell_type != "code" or index in skip:
                continue
            where = f"cell {index + 1} (`{_snippet(cell.source)}`)"
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                raise _Restart(
                    index, CellProblem(index + 1, "killed", f"{where} killed the kernel")
                ) from None
            reply = client.replies.get(index, {})
            printed = client.output_bytes.get(index, 0)
            if printed > output_cap:
                run.problems.append(
                    CellProblem(
                        index + 1,
                        "output",
                        f"{where} printed {printed / 1e6:.1f} MB of output "
                        f"(more than {output_cap / 1e6:g} MB; discarded)",
                    )
                )
            if reply.get("status") != "error":
                continue
            if reply.get("ename") == TIMEOUT_ENAME:
                problem = CellProblem(
                    index + 1, "timeout", f"{where} did not finish within {timeout:g} s"
                )
                client.timeout = max(1, round(PROBE_SECONDS))
                try:
                    client.execute_cell(nb.cells[probe_index], probe_index, store_history=False)
                except DeadKernelError:
                    raise _Restart(index, problem) from None
                client.timeout = max(1, round(timeout))
                if client.replies.get(probe_index, {}).get("ename") == TIMEOUT_ENAME:
                    raise _Restart(index, problem)
                run.problems.append(problem)
                continue
            text = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}"
            run.problems.append(
                CellProblem(index + 1, "error", f"{where} raised {clean_text(text, work)}")
            )
        try:
            client.execute_cell(nb.cells[export_index], export_index, store_history=False)
        except DeadKernelError:
            run.payload_error = "the kernel died while the grader collected your objects"
        reply = client.replies.get(export_index, {})
        if reply.get("status") == "error" and not run.payload_error:
            run.payload_error = "the grader could not collect your objects: " + clean_text(
                f"{reply.get('ename')}: {reply.get('evalue')}", work
            )
    if not run.payload_error:
        try:
            run.payload = json.loads(payload_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            run.payload_error = f"the grader could not read your objects back: {exc}"
    return run


def run_notebook(
    nb: nbformat.NotebookNode,
    work: Path,
    names: list[str],
    lesson_id: str,
    *,
    timeout: float,
    output_cap: int = 10_000_000,
    file_cap: int = 64 * 2**20,
) -> KernelRun:
    """Execute ``nb`` (a copy) in ``work``; return cell problems, the exported objects and the
    hint levels reached. Never raises for anything the notebook does."""
    skip: dict[int, CellProblem] = {}
    run = KernelRun()
    for _ in range(MAX_RUNS):
        try:
            run = _one_run(nb, work, names, skip, timeout, output_cap, file_cap)
            break
        except _Restart as restart:
            skip[restart.index] = restart.problem
    else:
        run = KernelRun(payload_error="the notebook could not be run to the end")
    for problem in skip.values():
        suffix = " — skipped on a re-run in a new kernel"
        run.problems.append(CellProblem(problem.cell, problem.kind, problem.text + suffix))
    run.problems.sort(key=lambda p: (p.cell, p.kind))
    run.hints = _hint_levels(work / ".rlcourse-progress.jsonl", lesson_id)
    return run
