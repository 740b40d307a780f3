"""Test-session set-up shared by the unit tests and the notebook tests (nbval).

* The suite runs in parallel by default (pytest-xdist, one worker per core) with each test
  file — so each notebook, whose cells share one kernel — whole in one worker
  (``--dist loadfile``). ``-n 0`` or ``-p no:xdist`` runs everything in one process.
* Progress records go to a temporary file, never to the user's home folder.
* One BLAS thread per process (``OMP_NUM_THREADS`` etc., unless set): the parallel workers and
  their kernels already use every core.
* Hypothesis runs derandomised: the same examples on every run.
* No test leaves a process behind: every process the session starts carries a random mark in
  its environment; when the session ends, a Jupyter server or kernel still carrying it is
  killed and the session fails (see ``pytest_sessionfinish``).
* In ``lessons/`` (untouched, generated notebooks) every cell that calls ``.check(`` must show
  a result that says *not attempted*: an untouched lesson runs top to bottom and no check
  passes or fails on a stub.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_tmp = tempfile.mkdtemp(prefix="rlcourse-test-")
os.environ["RLCOURSE_PROGRESS"] = str(Path(_tmp) / "progress.jsonl")
os.environ.setdefault("MPLBACKEND", "Agg")
# one BLAS thread per process: the workers and their kernels already fill the cores, and
# BLAS threads spinning beside them only slow everything down
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# inherited by xdist workers and by every process a test starts (servers, kernels)
SESSION_MARK = "RLCOURSE_TEST_SESSION"
os.environ.setdefault(SESSION_MARK, secrets.token_hex(8))

try:  # property tests draw the same examples on every run and machine
    from hypothesis import settings

    settings.register_profile("rlcourse", derandomize=True, deadline=None, database=None)
    settings.load_profile("rlcourse")
except ImportError:  # pragma: no cover - hypothesis comes with the [dev] extra
    pass


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Parallel by default: ``-n auto --dist loadfile`` unless told otherwise. Any ``-n`` given
    without ``--dist`` also keeps each file in one worker (nbval runs a notebook's cells in
    order on one kernel)."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    opt = config.option
    if getattr(opt, "numprocesses", None) is None and not getattr(opt, "distload", False):
        if opt.dist == "no" and not opt.collectonly and not getattr(opt, "usepdb", False):
            opt.numprocesses = "auto"
    if opt.numprocesses and opt.dist == "no" and not getattr(opt, "distload", False):
        opt.dist = "loadfile"
        # xdist would otherwise hand out the files with the most tests first, not the order
        # of ``SLOW_FIRST`` below
        opt.loadscopereorder = False


# The slowest files (seconds of their own, measured in a parallel run on 2 cores), started
# first: with whole files per worker, long files left for the end keep one worker busy while
# the other idles. Files not listed keep their usual order, after these.
SLOW_FIRST = (
    "tests/test_site.py",  # executes the 11 lessons and builds the website (~60 s)
    "tests/test_grading_attacks.py",  # grades a hostile class (~75 s in all)
    "tests/test_grading.py",  # grades a class (~45 s)
    "tests/test_export.py",  # nbgrader and Otter round trips (~35 s)
    "tests/test_binder.py",  # replays binder/ in a fresh venv (~21 s)
    "tests/test_grading_units.py",
    "tests/test_wheel.py",  # builds and installs the wheel (~14 s)
    "solutions/05_reproducing_the_paper.ipynb",
    "lessons/05_reproducing_the_paper.ipynb",
    "tests/test_games_lessons.py",
    "solutions/04_acting_on_a_fresh_subsample.ipynb",
    "lessons/04_acting_on_a_fresh_subsample.ipynb",
    "solutions/10_reproducing_the_paper.ipynb",
    "lessons/10_reproducing_the_paper.ipynb",
)


def slow_first(items: list, root: Path = ROOT) -> list:
    """``items`` with the files of ``SLOW_FIRST`` first, in that order; every file's items stay
    together and in their own order."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}

    def key(pair: tuple[int, object]) -> tuple[int, int]:
        position, item = pair
        path = Path(str(getattr(item, "path", getattr(item, "fspath", ""))))
        try:
            name = path.resolve().relative_to(root).as_posix()
        except ValueError:
            name = ""
        return (rank.get(name, len(rank)), position)

    return [item for _, item in sorted(enumerate(items), key=key)]


def pytest_collection_modifyitems(session, config, items):
    items[:] = slow_first(items)


_STATUS = re.compile(r"^\[\d\d\.q\d+ \w+\] (not attempted|incorrect|correct) ·", re.M)
_CHECK_CALL = re.compile(r"\bex\.q\d+\.check\(")


def _plain_text(outputs: list) -> str:
    parts = []
    for out in outputs or []:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        data = out.get("data", {})
        if "text/plain" in data:
            parts.append(data["text/plain"])
    return "\n".join(parts)


def untouched_violation(path: Path, source: str, outputs: list) -> str | None:
    """Why a cell of an untouched lesson breaks the rule (None when it does not): each
    ``ex.qN.check(`` call in a cell of ``lessons/*.ipynb`` must show *not attempted*."""
    if path.parent.name != "lessons" or path.suffix != ".ipynb":
        return None
    calls = len(_CHECK_CALL.findall(source))
    if not calls:
        return None
    statuses = _STATUS.findall(_plain_text(outputs))
    if len(statuses) >= calls and all(s == "not attempted" for s in statuses):
        return None
    return (
        f"{path.name}: an untouched lesson's check cell must show 'not attempted' for each "
        f"of its {calls} check(s); it showed {statuses or 'no check result'}.\n"
        f"Cell source:\n{source}"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if call.when != "call" or report.outcome != "passed" or cell is None:
        return
    path = Path(str(getattr(item, "path", getattr(item, "fspath", ""))))
    reason = untouched_violation(path, cell.source, getattr(item, "test_outputs", None))
    if reason:
        report.outcome = "failed"
        report.longrepr = reason


# ---- no process left behind ------------------------------------------------------------------

_LEFTOVER = re.compile(r"jupyter|ipykernel")


def leftover_processes() -> list:
    """Jupyter servers and kernels started by this test session that are still running."""
    import psutil

    mark = os.environ[SESSION_MARK]
    me = psutil.Process()
    ours = {me.pid, *(p.pid for p in me.parents())}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.pid in ours or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if not _LEFTOVER.search(" ".join(proc.info["cmdline"] or [])):
            continue
        try:
            if proc.environ().get(SESSION_MARK) == mark:
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def pytest_sessionfinish(session, exitstatus):
    """Fail the session if a Jupyter server or kernel it started is still running (after a
    short grace for kernels that are shutting down), and kill those processes."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks
        return
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with the [dev] extra
        return
    deadline = time.monotonic() + float(os.environ.get("RLCOURSE_LEFTOVER_GRACE", "15"))
    left = leftover_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = leftover_processes()
    if not left:
        return
    lines = []
    for proc in left:
        try:
            lines.append(f"  pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
        except psutil.Error:
            continue
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "tests left Jupyter processes running (now killed):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
