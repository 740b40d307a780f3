"""The check framework: outcomes, failure modes of student code, display, hints, progress."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from rlcourse.exercises import Case, Exercise, Status, allclose, exact
from rlcourse.exercises.progress import format_table, read_progress, summarise
from rlcourse.syllabus import load_syllabus


def square(x):
    return np.asarray(x, dtype=float) ** 2


def make(**kw):
    base = dict(
        lesson="00",
        id="q1",
        name="square",
        points=2,
        reference=square,
        cases=lambda rng: [Case((rng.normal(size=3),), note="three numbers"), (np.eye(2),)],
        hints=["nudge", "more", "nearly the answer"],
        solution_text="return x ** 2",
        timeout=1.0,
    )
    base.update(kw)
    return Exercise(**base)


def stub(x):
    raise NotImplementedError


def test_reference_is_correct_and_stub_not_attempted():
    ex = make()
    assert ex.check(square).status is Status.CORRECT
    assert ex.check(square).score == 2
    r = ex.check(stub)
    assert r.status is Status.NOT_ATTEMPTED and r.score == 0
    assert ex.check(...).status is Status.NOT_ATTEMPTED
    assert ex.check(None).status is Status.NOT_ATTEMPTED


@pytest.mark.parametrize(
    ("student", "needle"),
    [
        (lambda x: 1 / 0, "raised ZeroDivisionError"),
        (lambda x: np.zeros(7), "wrong shape: expected (3,), got (7,)"),
        (lambda x: np.full(np.shape(x), np.nan), "got NaN in 3 entries"),
        (lambda x: None, "returned None"),
        (lambda x: "a string", "expected numbers (an array of shape (3,)"),
        (lambda x: x**3, "values differ at index"),
    ],
    ids=["exception", "wrong-shape", "nan", "none", "wrong-type", "wrong-values"],
)
def test_failure_modes_are_incorrect_with_a_message(student, needle):
    ex = make()
    r = ex.check(student)
    assert r.status is Status.INCORRECT
    assert needle in r.message
    assert "Test case 1 of 2 (three numbers)" in r.message
    assert "input x = array(shape=(3,)" in r.message
    assert "expected:" in r.message


def test_endless_loop_is_stopped_and_reported():
    def forever(x):
        while True:
            pass

    r = make(timeout=0.3).check(forever)
    assert r.status is Status.INCORRECT
    assert "did not finish within 0.3 s" in r.message
    # the checker survived and still works
    assert make().check(square).correct


def test_endless_loop_off_the_main_thread_is_abandoned():
    box = {}

    def forever(x):
        while not box.get("stop"):
            pass

    def run():
        box["result"] = make(timeout=0.3).check(forever)

    t = threading.Thread(target=run)
    t.start()
    t.join(5)
    box["stop"] = True
    assert box["result"].status is Status.INCORRECT
    assert "did not finish" in box["result"].message


def test_student_swallowing_exceptions_cannot_hide_the_timeout():
    def sneaky(x):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass

    assert "did not finish" in make(timeout=0.2).check(sneaky).message


def test_inputs_are_not_shared_with_the_student():
    seen = []

    def mutating(x):
        seen.append(x)
        x[...] = 0.0
        return square(np.ones_like(x))

    ex = make()
    ex.check(mutating)
    # the student zeroed their copy; the reference saw its own copy, so the first case fails
    assert ex.check(mutating).status is Status.INCORRECT


def test_not_a_function():
    r = make().check(np.ones(3))
    assert r.status is Status.INCORRECT and "expected a function `square`" in r.message


def test_value_exercise():
    ex = make(kind="value", reference=lambda: 0.25, cases=None, compare=allclose(atol=1e-3))
    assert ex.check(0.2501).correct
    assert ex.check(...).status is Status.NOT_ATTEMPTED
    bad = ex.check(0.3)
    assert bad.status is Status.INCORRECT and "expected: 0.25" in bad.message
    assert ex.check("text").status is Status.INCORRECT


def test_exact_compare():
    cmp = exact()
    assert cmp(np.array([1, 2]), np.array([1, 2])) is None
    assert "1 entries differ" in cmp(np.array([1, 3]), np.array([1, 2]))
    assert "wrong shape" in cmp(np.array([1]), np.array([1, 2]))
    assert cmp((1, 2), (1, 2)) is None and cmp(3, 4) == "values differ"


def test_verify_exercise():
    def verify(fn, rng):
        x = rng.normal(size=5)
        return None if np.allclose(fn(x), x**2) else "does not square"

    ex = make(verify=verify, cases=None)
    assert ex.check(square).correct
    assert ex.check(stub).status is Status.NOT_ATTEMPTED
    assert "does not square" in ex.check(lambda x: x).message
    assert "raised ValueError" in ex.check(lambda x: int("a")).message


def test_a_broken_reference_or_compare_never_raises():
    ex = make(compare=lambda got, exp: 1 / 0)
    r = ex.check(square)
    assert r.status is Status.INCORRECT and "could not compare" in r.message


def test_result_display_plain_and_html():
    r = make().check(lambda x: 1 / 0)
    text = str(r)
    assert text.startswith("[00.q1 square] incorrect · 0/2 points")
    assert repr(r) == text
    html = r._repr_html_()
    assert "incorrect" in html and "&lt;" not in r.name
    assert "ZeroDivisionError" in html


def test_hints_are_layered_and_bounded():
    ex = make()
    assert "nudge" in ex.hint() and "hint(2)" in ex.hint()
    assert "nearly the answer" in ex.hint(3) and "(hint 3 of 3)" in ex.hint(3)
    assert "nearly the answer" in ex.hint(99)
    assert "numbered 1 to 3" in ex.hint(0)
    assert "return x ** 2" in ex.solution()


def test_exercise_definition_errors():
    with pytest.raises(ValueError, match="kind"):
        make(kind="essay")
    with pytest.raises(ValueError, match="cases"):
        make(cases=None)
    with pytest.raises(ValueError, match="hints"):
        make(hints=[])


def test_name_and_points_come_from_the_syllabus():
    ex = Exercise(
        lesson="00",
        id="q2",
        reference=square,
        cases=lambda rng: [(1.0,)],
        hints=["h"],
        solution_text="s",
    )
    spec = load_syllabus().lesson("00").exercise("q2")
    assert (ex.name, ex.points) == (spec.name, spec.points)


def test_progress_is_recorded_and_summarised(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv("RLCOURSE_PROGRESS", str(path))
    ex = make(name="discounted_return", points=2)
    ex.check(stub)
    ex.check(lambda x: 1 / 0)
    ex.check(square)
    ex.hint(2)
    path.open("a").write("not json\n")
    entries = read_progress(path)
    assert [e.get("status") for e in entries if e["event"] == "check"] == [
        "not attempted",
        "incorrect",
        "correct",
    ]
    rows = summarise(entries, load_syllabus())
    row = rows[0]
    assert (row.lesson, row.score, row.attempted, row.correct, row.hints) == ("00", 2.0, 1, 1, 1)
    table = format_table(rows)
    assert "00" in table and "2/8" in table
    # a later failure does not erase an earlier success
    ex.check(lambda x: 1 / 0)
    assert summarise(read_progress(path), load_syllabus())[0].correct == 1
    assert json.loads(path.read_text().splitlines()[0])["lesson"] == "00"


def test_progress_off_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("RLCOURSE_PROGRESS", "off")
    assert make().check(square).correct
    monkeypatch.setenv("RLCOURSE_PROGRESS", str(tmp_path / "file" / "x.jsonl"))
    (tmp_path / "file").write_text("a file where a folder should be")
    assert make().check(square).correct  # recording fails quietly


# ---- feedback names the real calls; HTML shows code as code ----------------------------------


def test_feedback_names_the_real_calls():
    ex = make()
    assert "Stuck? Try `ex.q1.hint()`." in ex.check(stub).message
    assert "Try `ex.q1.hint()` for a nudge." in ex.check(lambda x: 1 / 0).message
    assert "`ex.q1.hint(2)` says more" in ex.hint()
    assert "`ex.q1.hint(1)`" in ex.hint(0)
    value = make(kind="value", reference=lambda: 0.25, cases=None)
    assert "Try `ex.q1.hint()`." in value.check(0.3).message


def test_html_renders_code_as_code_and_a_clear_not_attempted_mark():
    ex = make()
    html = ex.check(stub)._repr_html_()
    assert "<code>ex.q1.hint()</code>" in html and "`" not in html
    assert "○" in html and "…" not in html and "not attempted" in html
    bad = ex.check(lambda x: 1 / 0)._repr_html_()
    assert "font-family:monospace" in bad and "input x = array(shape=(3,)" in bad
    assert "<code>ex.q1.hint()</code>" in bad


def test_a_demonstration_hint_is_not_recorded(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv("RLCOURSE_PROGRESS", str(path))
    ex = make()
    assert "nudge" in ex.hint(record=False)
    assert "return x ** 2" in ex.solution(record=False)
    assert read_progress(path) == []
    ex.hint()
    assert [e["event"] for e in read_progress(path)] == ["hint"]


def test_lessons_record_no_hint_on_run_all():
    """A lesson's own hint calls (demonstrations) pass record=False, so running a lesson top
    to bottom records no hint the student never asked for."""
    import re
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parents[1]
    call = re.compile(r"\bex\.q\d+\.(hint|solution)\(([^)]*)\)")
    for path in sorted((root / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for m in call.finditer(cell.source):
                assert "record=False" in m.group(2), f"{path.name}: {m.group(0)}"


# ---- the time limit without signals or threads (a browser kernel) ----------------------------


@pytest.fixture
def no_signals_no_threads(monkeypatch):
    import signal

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.delattr(signal, "setitimer", raising=False)
    monkeypatch.setattr(threading.Thread, "start", no_thread)


def test_time_limit_without_signals_or_threads(no_signals_no_threads):
    import sys

    before = sys.gettrace()

    def forever(x):
        while True:
            pass

    r = make(timeout=0.3).check(forever)
    assert r.status is Status.INCORRECT and "did not finish within 0.3 s" in r.message
    assert "can't start new thread" not in r.message
    assert sys.gettrace() is before, "the trace function is removed after the check"

    def nested(x):
        def inner():
            total = 0
            while True:
                total += 1

        return inner()

    assert "did not finish" in make(timeout=0.3).check(nested).message
    assert make().check(square).correct
    assert make().check(stub).status is Status.NOT_ATTEMPTED
    assert "raised ZeroDivisionError" in make().check(lambda x: 1 / 0).message


def test_every_lesson_check_works_without_signals_or_threads(no_signals_no_threads, monkeypatch):
    from rlcourse.exercises import exercises_of, framework

    traced = []
    real = framework._call_with_trace_limit

    def spy(*args, **kwargs):
        traced.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(framework, "_call_with_trace_limit", spy)
    for lesson in load_syllabus().lessons:
        for qid, ex in exercises_of(lesson.id).items():
            answer = ex.reference if ex.kind == "function" else ex.reference()
            r = ex.check(answer, record=False)
            assert r.correct, f"{lesson.id}.{qid}: {r}"
    assert len(traced) > 30, "the checks ran under the trace-based limit"


# ---- module structure ------------------------------------------------------------------------


def test_exercise_modules_import_no_circle():
    """The checker, the progress file and the results import each other in one direction
    only (including imports inside functions and under TYPE_CHECKING)."""
    import ast
    from pathlib import Path

    import rlcourse.exercises as pkg

    folder = Path(pkg.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = f"rlcourse.exercises.{path.stem}".replace(".__init__", "")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d.startswith("rlcourse.exercises.")}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for d in graph.get(start, ()):
            if d == goal or (d not in seen and reaches(d, goal, seen | {d})):
                return True
        return False

    circles = [m for m in graph if reaches(m, m, {m})]
    assert not circles, f"import circle through {circles}"
