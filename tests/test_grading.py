"""`rlcourse grade`: a class of lesson-00 submissions, one per case the grader must survive,
graded once through the CLI; the gradebook is checked field by field."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from rlcourse.cli import main
from rlcourse.grading import grade

_spec = importlib.util.spec_from_file_location(
    "grading_submissions", Path(__file__).parent / "fixtures" / "grading" / "submissions.py"
)
subs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(subs)

TIMEOUT = 5
QIDS = ("q1", "q2", "q3")
POINTS = {"q1": 2, "q2": 3, "q3": 3}
C, I, N, G, F = "correct", "incorrect", "not attempted", "not graded", "flagged"


def _cell(student: str, needle: str, nth: int = 0) -> str:
    """``cell K (`first line`)`` of the fixture cell whose source contains ``needle``."""
    nb = subs.CASES[student]()
    hits = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source]
    i = hits[nth]
    first = next(line.strip() for line in nb.cells[i].source.splitlines() if line.strip())
    return f"cell {i + 1} (`{first}`)"


SKIPPED = " — skipped on a re-run in a new kernel"

# student -> (statuses of q1..q3, hint levels of q1..q3, errors); the lesson's own
# demonstration of `ex.q1.hint` passes record=False, so only hints a student asked for count
EXPECTED = {
    "alice": ((C, C, C), (0, 2, 0), []),
    "bob": ((I, C, N), (0, 0, 0), []),
    "erin": (
        (C, C, N),
        (0, 0, 0),
        [
            f"{_cell('erin', '.check(bellman_backup)')} raised NameError: "
            "name 'bellman_backup' is not defined",
            f"{_cell('erin', '.check(value_iteration)')} raised NameError: "
            "name 'value_iteration' is not defined",
        ],
    ),
    "frank": ((C, C, N), (0, 0, 0), [f"{_cell('frank', 'while True')} did not finish within 5 s"]),
    "gina": (
        (C, C, N),
        (0, 0, 0),
        [
            f"{_cell('gina', 'while True')} did not finish within 5 s{SKIPPED}",
            f"for review: {_cell('gina', 'while True').split(' (')[0]} handles signals (`signal`)",
        ],
    ),
    "hank": (
        (C, C, N),
        (0, 0, 0),
        [
            f"{_cell('hank', 'os._exit')} killed the kernel{SKIPPED}",
            f"for review: {_cell('hank', 'os._exit').split(' (')[0]} ends the process (`os._exit`)",
        ],
    ),
    "ivy": (
        (C, N, N),
        (0, 0, 0),
        [
            f"{_cell('ivy', '30_000_000')} printed 30.0 MB of output (more than 10 MB; discarded)",
            f"{_cell('ivy', 'filler.bin')} raised OSError: [Errno 27] File too large",
        ],
    ),
    "judy": ((F, I, I), (0, 0, 0), None),  # errors: see test_monkeypatching_does_not_reach...
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    paths = subs.make_class(root / "class")
    # the answer key, under a name that names no lesson: its metadata says which
    paths["key"] = root / "class" / "key.ipynb"
    paths["key"].write_bytes(subs.SOLUTION.read_bytes())
    before = {s: (p.read_bytes(), p.stat().st_mtime_ns) for s, p in paths.items()}
    out = root / "out"
    code = main(
        [
            "grade",
            str(root / "class"),
            "--out",
            str(out),
            "--timeout",
            str(TIMEOUT),
            "--jobs",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    doc = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    rows = {r["student"]: r for r in doc["submissions"]}
    return {"root": root, "paths": paths, "before": before, "out": out, "rows": rows}


def test_one_row_per_submission_sorted(graded):
    doc = json.loads((graded["out"] / "gradebook.json").read_text(encoding="utf-8"))
    students = [r["student"] for r in doc["submissions"]]
    assert students == sorted(graded["paths"])


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_graded_row(graded, student):
    statuses, hints, errors = EXPECTED[student]
    row = graded["rows"][student]
    assert row["file"] == str(graded["paths"][student])
    assert row["lesson"] == "00"
    assert row["lesson_title"] == "Welcome: how this course works"
    assert [e["id"] for e in row["exercises"]] == list(QIDS)
    assert [e["name"] for e in row["exercises"]] == list(subs.NAMES)
    assert tuple(e["status"] for e in row["exercises"]) == statuses
    assert [e["max_points"] for e in row["exercises"]] == [POINTS[q] for q in QIDS]
    points = [POINTS[q] if s == C else 0 for q, s in zip(QIDS, statuses, strict=True)]
    assert [e["points"] for e in row["exercises"]] == points
    assert row["total"] == sum(points)
    assert row["max_points"] == 8
    assert tuple(e["hint_level"] for e in row["exercises"]) == hints
    if errors is not None:
        assert row["errors"] == errors
    assert row["time_s"] > 0
    for e in row["exercises"]:
        assert e["message"], e
        if e["status"] == C:
            assert e["message"].startswith("Correct on all")


def test_messages_say_why(graded):
    rows = graded["rows"]
    bob = {e["id"]: e["message"] for e in rows["bob"]["exercises"]}
    assert "Test case 1 of 5" in bob["q1"] and "values differ" in bob["q1"]
    assert "still holds the stub" in bob["q3"]
    erin = {e["id"]: e["message"] for e in rows["erin"]["exercises"]}
    assert "`value_iteration` is not defined after running your notebook" in erin["q3"]


def test_monkeypatching_does_not_reach_the_checks(graded):
    judy = {e["id"]: e for e in graded["rows"]["judy"]["exercises"]}
    # q1 aliases the library's function: flagged, although the notebook patched Exercise.check
    assert judy["q1"]["points"] == 0 and judy["q1"]["flag"]
    assert "Flagged for review: `discounted_return` calls" in judy["q1"]["message"]
    # q2 is wrong; the notebook patched np.allclose, rlcourse.mdp and ex.q2.reference in vain
    assert "values differ" in judy["q2"]["message"] and "Test case 1 of 4" in judy["q2"]["message"]
    assert not judy["q2"]["flag"]  # its own function, put into rlcourse.mdp: not the library's
    # q3 patches numpy while it runs: only in the student's kernel, not in the judge
    assert "values differ" in judy["q3"]["message"]
    errors = graded["rows"]["judy"]["errors"]
    assert errors[0].startswith("q1 `discounted_return` flagged for review: it calls the library")
    where = _cell("judy", "framework.Exercise.check").split(" (")[0]
    patched = "(`framework.Exercise.check = ...`)"
    assert f"for review: {where} assigns into an imported module {patched}" in errors


def test_the_solution_notebook_is_a_test_key(graded):
    row = graded["rows"]["key"]
    assert row["lesson"] == "00" and row["total"] == 8 and row["flags"] == 0
    assert [e["status"] for e in row["exercises"]] == [C, C, C]


def test_invalid_json_is_a_zero_with_the_reason(graded):
    row = graded["rows"]["carol"]
    assert row["lesson"] == "00"  # from the file name
    assert [e["status"] for e in row["exercises"]] == [G, G, G]
    assert [e["points"] for e in row["exercises"]] == [0, 0, 0]
    assert row["total"] == 0 and row["max_points"] == 8
    assert len(row["errors"]) == 1
    assert row["errors"][0].startswith("not a valid notebook (JSONDecodeError:")
    for e in row["exercises"]:
        assert e["message"] == "not graded: the file is not a valid notebook"


def test_unknown_lesson_is_a_zero_with_the_reason(graded):
    row = graded["rows"]["dave"]
    assert row["file"] == str(graded["paths"]["dave"])
    assert row["lesson"] == "" and row["exercises"] == []
    assert row["total"] == 0 and row["max_points"] == 0
    assert row["errors"] == [
        "unknown lesson: the notebook's metadata names lesson '99', not in the syllabus, "
        "and the file name `dave.ipynb` matches no lesson"
    ]


def test_csv_matches_json(graded):
    with (graded["out"] / "gradebook.csv").open(encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["student"] for r in table] == sorted(graded["rows"])
    for line in table:
        row = graded["rows"][line["student"]]
        assert line["file"] == row["file"] and line["lesson"] == row["lesson"]
        by_id = {e["id"]: e for e in row["exercises"]}
        for q in QIDS:
            e = by_id.get(q)
            assert line[f"{q}_status"] == (e["status"] if e else "")
            assert line[f"{q}_points"] == (str(e["points"]) if e else "")
        assert line["total"] == str(row["total"])
        assert line["max_points"] == str(row["max_points"])
        assert float(line["time_s"]) == pytest.approx(row["time_s"])
        assert line["errors"] == " | ".join(row["errors"])


def test_feedback_per_student(graded):
    folder = graded["out"] / "feedback"
    assert sorted(p.stem for p in folder.glob("*.md")) == sorted(graded["rows"])
    for student, row in graded["rows"].items():
        text = (folder / f"{student}.md").read_text(encoding="utf-8")
        assert row["feedback"] == f"feedback/{student}.md"
        assert text.startswith(f"# Feedback for {student}\n")
        assert f"**Score: {row['total']} / {row['max_points']}**" in text
        for e in row["exercises"]:
            assert f"### {e['id']} `{e['name']}`: {e['status']}" in text
            assert e["message"] in text
        for err in row["errors"]:
            assert f"- {err}" in text
    alice = (folder / "alice.md").read_text(encoding="utf-8")
    assert "| q2 `bellman_backup` | correct | 3 / 3 | 2 of 3 |" in alice
    assert "| q3 `value_iteration` | correct | 3 / 3 | none |" in alice


def test_submissions_are_never_modified(graded):
    for student, path in graded["paths"].items():
        assert (path.read_bytes(), path.stat().st_mtime_ns) == graded["before"][student]
    leftovers = [p.name for p in graded["root"].joinpath("class").rglob("*") if p.is_file()]
    assert sorted(leftovers) == sorted(p.name for p in graded["paths"].values())


def _without_times(doc: dict) -> dict:
    return {
        "submissions": [{k: v for k, v in r.items() if k != "time_s"} for r in doc["submissions"]]
    }


def test_regrading_gives_the_same_result(graded, tmp_path):
    """A second run (a subset, given as files) reproduces every field except the wall time."""
    again = ["alice", "carol", "dave"]
    report = grade(
        [graded["paths"][s] for s in again], tmp_path, timeout=TIMEOUT, jobs=2, progress=False
    )
    first = json.loads((graded["out"] / "gradebook.json").read_text(encoding="utf-8"))
    first["submissions"] = [r for r in first["submissions"] if r["student"] in again]
    second = json.loads(report.json_path.read_text(encoding="utf-8"))
    assert _without_times(second) == _without_times(first)
    for s in again:
        a = (graded["out"] / "feedback" / f"{s}.md").read_bytes()
        assert (tmp_path / "feedback" / f"{s}.md").read_bytes() == a
    assert not list(tmp_path.rglob("*.tmp"))
