"""Test-session set-up shared by the unit tests and the notebook tests (nbval).

* Progress records go to a temporary file, never to the user's home folder.
* Hypothesis runs derandomised: the same examples on every run.
* In ``lessons/`` (untouched, generated notebooks) every cell that calls ``.check(`` must show
  a result that says *not attempted*: an untouched lesson runs top to bottom and no check
  passes or fails on a stub.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_tmp = tempfile.mkdtemp(prefix="rlcourse-test-")
os.environ["RLCOURSE_PROGRESS"] = str(Path(_tmp) / "progress.jsonl")
os.environ.setdefault("MPLBACKEND", "Agg")

try:  # property tests draw the same examples on every run and machine
    from hypothesis import settings

    settings.register_profile("rlcourse", derandomize=True, deadline=None, database=None)
    settings.load_profile("rlcourse")
except ImportError:  # pragma: no cover - hypothesis comes with the [dev] extra
    pass

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
