"""Run a copy of a submission in a fresh, limited kernel; then have it call the student's
functions on the judge's cases and collect the plain-data answers.

The kernel is started through :mod:`rlcourse.grading._sandbox` (new session, resource limits,
optionally its own user id and mount namespace) with the grader's own interpreter, in a
private folder holding only the copy, with a scrubbed environment. Each code cell runs with a
time limit, and the whole notebook with a total budget that does not grow with the number of
cells; errors do not stop the run. A cell that does not stop when interrupted, or that kills
the kernel, is skipped on a re-run in a new kernel (within the same budget). Outputs are
counted and discarded; the only output read is the runner's, and only as plain data.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError

from rlcourse._nbexec import SteadyClient
from rlcourse.grading._runner import MIME

__all__ = ["CellProblem", "KernelRun", "Limits", "run_notebook"]

KERNEL_NAME = "rlcourse-grader"
MAX_RUNS = 3  # first run + re-runs that skip a cell that hung or killed the kernel
PROBE_SECONDS = 3.0
TIMEOUT_ENAME = "rlcourse-cell-timeout"
PROGRESS_NAME = ".rlcourse-progress.jsonl"
MAX_PROGRESS_BYTES = 2**20


@dataclass(frozen=True)
class Limits:
    """What one submission may use: time per cell, total time for the notebook, memory
    (address space), processes (only enforced for a non-root user), file size, output."""

    timeout: float = 60.0
    budget: float = 600.0
    memory: int = 4 * 2**30
    nproc: int = 256
    file_size: int = 64 * 2**20
    output: int = 10_000_000


class _GraderSpecs(KernelSpecManager):
    """One kernel spec: IPython on the grader's own interpreter, started by the sandbox."""

    def __init__(self, config: dict[str, Any], **kw: Any) -> None:
        super().__init__(**kw)
        self.sandbox = config

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        sandbox = [sys.executable, "-m", "rlcourse.grading._sandbox", json.dumps(self.sandbox)]
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        return KernelSpec(
            argv=[*sandbox, "--", *kernel],
            display_name="rlcourse grader",
            language="python",
            metadata={"debugger": False},
        )


@dataclass(frozen=True)
class CellProblem:
    """Something that went wrong in one cell (``cell`` is its 1-based position)."""

    cell: int
    kind: str  # "error", "timeout", "killed", "output", "budget"
    text: str


@dataclass
class KernelRun:
    problems: list[CellProblem] = field(default_factory=list)
    outcomes: dict[str, Any] = field(default_factory=dict)
    runner_error: str = ""
    forged: int = 0
    hints: dict[str, int] = field(default_factory=dict)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")


def clean_text(text: str, work: Path, limit: int = 300) -> str:
    """One line, no memory addresses or private paths (so a re-run gives the same text)."""
    text = str(text).replace(str(work), "<submission folder>")
    text = _ADDRESS.sub("", " ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 60 else line[:57] + "..."
    return ""


class _Client(SteadyClient):
    """A notebook client that keeps no outputs, only how much each cell printed — and, for the
    runner cell, the plain-data messages of MIME type ``MIME``."""

    def __init__(self, *args: Any, runner_index: int = -1, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.output_bytes: dict[int, int] = {}
        self.replies: dict[int, dict[str, Any]] = {}
        self.runner_index = runner_index
        self.messages: list[Any] = []
        self.forged = 0
        self.on_cell_executed = self._on_executed

    def _on_executed(self, cell: Any, cell_index: int, execute_reply: Any) -> None:
        if execute_reply is not None:
            self.replies[cell_index] = dict(execute_reply.get("content", {}))

    def output(self, outs: list, msg: dict[str, Any], display_id: Any, cell_index: int) -> None:
        content = msg.get("content", {})
        data = content.get("data") or {}
        if MIME in data:
            if cell_index == self.runner_index and len(self.messages) < 1000:
                self.messages.append(data[MIME])
            else:
                self.forged += 1
            return None
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in data.values())
        self.output_bytes[cell_index] = self.output_bytes.get(cell_index, 0) + size
        return None


_RUNNER = """
__import__("rlcourse.grading._runner", fromlist=["serve"]).serve(globals(), {path!r}, {nonce!r})
"""


class _Hints:
    """Reads the hints the kernel records, cell by cell, so that hints asked for by a cell
    the lesson itself contains (its demonstration) are not counted."""

    def __init__(self, path: Path, lesson_id: str) -> None:
        self.path, self.lesson_id = path, lesson_id
        self.offset = 0
        self.levels: dict[str, int] = {}

    def after_cell(self, counts: bool) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read(max(0, MAX_PROGRESS_BYTES - self.offset))
        except OSError:
            return
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        if not counts:
            return
        for line in chunk[:end].splitlines():
            try:
                e = json.loads(line)
                if e.get("event") != "hint" or str(e.get("lesson")) != self.lesson_id:
                    continue
                qid, level = str(e["exercise"])[:20], int(e.get("level", 0))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
            self.levels[qid] = max(self.levels.get(qid, 0), min(level, 99))


class _Restart(Exception):
    def __init__(self, index: int, problem: CellProblem) -> None:
        super().__init__(problem.text)
        self.index = index
        self.problem = problem


def kernel_env(work: Path) -> dict[str, str]:
    """The kernel's whole environment: nothing of the instructor's is passed on."""
    import rlcourse
    from rlcourse.paths import project_root

    package_root = str(Path(rlcourse.__file__).resolve().parent.parent)
    return {
        "RLCOURSE_ROOT": str(project_root()),
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": package_root,
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(work / ".matplotlib"),
        "IPYTHONDIR": str(work / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(work / ".jupyter"),
        "JUPYTER_DATA_DIR": str(work / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(work / ".jupyter"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "RLCOURSE_PROGRESS": str(work / PROGRESS_NAME),
    }


def _one_run(
    nb: nbformat.NotebookNode,
    work: Path,
    request: Path,
    skip: dict[int, CellProblem],
    limits: Limits,
    deadline: float,
    config: dict[str, Any],
    hints: _Hints,
    demo: set[str],
    check_seconds: float,
) -> KernelRun:
    """Run every code cell not in ``skip`` in one new kernel, then the runner."""
    run = KernelRun()
    nonce = secrets.token_hex(16)
    n_student = len(nb.cells)
    probe_index, runner_index = n_student, n_student + 1
    nb = nbformat.from_dict(nb)
    nb.cells.extend(
        [
            nbformat.v4.new_code_cell("pass"),
            nbformat.v4.new_code_cell(_RUNNER.format(path=str(request), nonce=nonce)),
        ]
    )
    km = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=_GraderSpecs(config),
        connection_file=str(work / ".kernel.json"),
    )
    client = _Client(
        nb,
        km=km,
        timeout=max(1, round(limits.timeout)),
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        iopub_timeout=2,
        startup_timeout=60,
        shutdown_kernel="immediate",
        record_timing=False,
        runner_index=runner_index,
    )
    hints.offset = 0
    hints.levels = {}
    with client.setup_kernel(
        env=kernel_env(work),
        cwd=str(work),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cleanup_kc=True,
    ):
        for index in range(n_student):
            cell = nb.cells[index]
            if cell.cell_type != "code" or index in skip:
                continue
            where = f"cell {index + 1} (`{_snippet(cell.source)}`)"
            left = deadline - time.monotonic()
            if left < 1:
                run.problems.append(
                    CellProblem(
                        index + 1,
                        "budget",
                        f"the notebook used up its time budget of {limits.budget:g} s: "
                        f"cells from {where} on were not run",
                    )
                )
                break
            limit = min(limits.timeout, left)
            client.timeout = max(1, round(limit))
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                raise _Restart(
                    index, CellProblem(index + 1, "killed", f"{where} killed the kernel")
                ) from None
            finally:
                hints.after_cell(cell.source.strip() not in demo)
            reply = client.replies.get(index, {})
            printed = client.output_bytes.get(index, 0)
            if printed > limits.output:
                run.problems.append(
                    CellProblem(
                        index + 1,
                        "output",
                        f"{where} printed {printed / 1e6:.1f} MB of output "
                        f"(more than {limits.output / 1e6:g} MB; discarded)",
                    )
                )
            if reply.get("status") != "error":
                continue
            if reply.get("ename") == TIMEOUT_ENAME:
                problem = CellProblem(
                    index + 1, "timeout", f"{where} did not finish within {limit:g} s"
                )
                client.timeout = max(1, round(PROBE_SECONDS))
                try:
                    client.execute_cell(nb.cells[probe_index], probe_index, store_history=False)
                except DeadKernelError:
                    raise _Restart(index, problem) from None
                if client.replies.get(probe_index, {}).get("ename") == TIMEOUT_ENAME:
                    raise _Restart(index, problem)
                run.problems.append(problem)
                continue
            text = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}"
            run.problems.append(
                CellProblem(index + 1, "error", f"{where} raised {clean_text(text, work)}")
            )
        client.timeout = max(1, round(check_seconds))
        try:
            client.execute_cell(nb.cells[runner_index], runner_index, store_history=False)
        except DeadKernelError:
            run.runner_error = "the kernel died while your functions were checked"
        reply = client.replies.get(runner_index, {})
        if reply.get("ename") == TIMEOUT_ENAME:
            run.runner_error = "checking your functions did not finish in time"
        elif reply.get("status") == "error" and not run.runner_error:
            run.runner_error = "the checks could not run in your kernel: " + clean_text(
                f"{reply.get('ename')}: {reply.get('evalue')}", work
            )
    run.forged = client.forged
    conflicts: set[str] = set()
    for message in client.messages:
        if not isinstance(message, dict) or message.pop("nonce", None) != nonce:
            run.forged += 1
            continue
        qid = message.get("id")
        if not isinstance(qid, str):
            run.forged += 1
        elif qid in run.outcomes:
            conflicts.add(qid)
        else:
            run.outcomes[qid] = message
    for qid in conflicts:  # two answers for one exercise: neither is trusted
        run.outcomes[qid] = {"id": qid, "status": "conflict"}
    return run


def run_notebook(
    nb: nbformat.NotebookNode,
    work: Path,
    request: Path,
    lesson_id: str,
    *,
    limits: Limits,
    config: dict[str, Any],
    check_seconds: float,
    demo: set[str] | None = None,
) -> KernelRun:
    """Execute ``nb`` (a copy) in ``work``, then the runner with the calls in ``request``;
    return cell problems, the kernel's plain-data outcomes per exercise and the hint levels.
    Never raises for anything the notebook does."""
    skip: dict[int, CellProblem] = {}
    run = KernelRun()
    deadline = time.monotonic() + limits.budget
    hints = _Hints(work / PROGRESS_NAME, lesson_id)
    for _ in range(MAX_RUNS):
        try:
            (work / PROGRESS_NAME).unlink(missing_ok=True)
            run = _one_run(
                nb, work, request, skip, limits, deadline, config, hints, demo or set(),
                check_seconds,
            )  # fmt: skip
            break
        except _Restart as restart:
            skip[restart.index] = restart.problem
    else:
        run = KernelRun(runner_error="the notebook could not be run to the end")
    for problem in skip.values():
        suffix = " — skipped on a re-run in a new kernel"
        run.problems.append(CellProblem(problem.cell, problem.kind, problem.text + suffix))
    run.problems.sort(key=lambda p: (p.cell, p.kind))
    run.hints = dict(hints.levels)
    return run
