"""Export the lessons for nbgrader or Otter-Grader: ``rlcourse export --to FORMAT DIR``.

Both write *source* (instructor) notebooks made from ``solutions/``: the solution regions stay,
marked the way each tool expects, and the tool makes the student version from them.

* **nbgrader** — ``DIR/source/<slug>/<slug>.ipynb``. The cell that holds a solution region is a
  solution cell (nbgrader replaces the region between its ``### BEGIN SOLUTION`` /
  ``### END SOLUTION`` markers by ``raise NotImplementedError()``); each check cell
  ``ex.qN.check(name)`` becomes an autograded test cell worth the exercise's points, which
  runs the course's check and fails unless it says *correct*; every other cell is locked.
  Then ``nbgrader generate_assignment <slug>`` and ``nbgrader autograde <slug>`` as usual.
* **Otter** — ``DIR/<slug>/<slug>.ipynb`` in Otter Assign's notebook format: an assignment
  config cell, and per exercise a question block (``# BEGIN QUESTION`` with its points) holding
  the prompt, the solution cell (regions marked ``# BEGIN SOLUTION NO PROMPT`` with the course's
  stub as the prompt, so students get exactly the stub of ``lessons/``), the course's check and
  one test ``assert ex.qN.check(name).correct``. Then ``otter assign DIR/<slug>/<slug>.ipynb
  dist/``.

In both, cells tagged ``solution-only`` are dropped and outputs are cleared. Both tools grade
in the student's own kernel, so a student can patch the checks there; ``rlcourse grade``
re-runs every check in a kernel of its own (see the instructor guide).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from rlcourse.build import BEGIN, END, SOLUTION_ONLY, stub_source
from rlcourse.paths import solutions_dir
from rlcourse.syllabus import LessonSpec, Syllabus, load_syllabus

__all__ = ["FORMATS", "Question", "export", "nbgrader_notebook", "otter_notebook", "questions"]

FORMATS = ("nbgrader", "otter")
CHECK = re.compile(r"^ex\.(?P<qid>q[0-9]+)\.check\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)$")
NBGRADER_SCHEMA = 3


@dataclass(frozen=True)
class Question:
    """One exercise as it sits in a solution notebook (cell positions in the cleaned notebook)."""

    qid: str
    name: str
    points: int
    prompt: int | None  # the markdown cell "Exercise qN …" just before the solution, if any
    solutions: tuple[int, ...]  # cells holding its solution regions
    check: int  # the cell `ex.qN.check(name)`


def _clean(solution: nbformat.NotebookNode, lesson: LessonSpec) -> nbformat.NotebookNode:
    """A copy without solution-only cells, outputs or saved widget state."""
    nb = nbformat.from_dict(solution)
    cells = []
    for cell in nb.cells:
        if SOLUTION_ONLY in cell.get("metadata", {}).get("tags", []):
            continue
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    for k, cell in enumerate(cells):
        cell.id = f"{lesson.id}-{k:03d}"
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata["rlcourse"] = {"lesson": lesson.id}
    return nb


def questions(nb: nbformat.NotebookNode, lesson: LessonSpec) -> list[Question]:
    """Find each exercise's solution cells and check cell in a (cleaned) solution notebook."""
    where = f"solutions/{lesson.notebook}"
    found: list[Question] = []
    pending: list[int] = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if any(BEGIN.match(line) for line in cell.source.splitlines()):
            pending.append(k)
            continue
        m = CHECK.match(cell.source.strip())
        if not m:
            continue
        try:
            spec = lesson.exercise(m["qid"])
        except KeyError:
            raise ValueError(
                f"{where}, cell {k}: checks {m['qid']}, which the syllabus does not list for "
                f"lesson {lesson.id}"
            ) from None
        if m["name"] != spec.name:
            raise ValueError(
                f"{where}, cell {k}: checks {m['name']!r}, expected {spec.name!r} (syllabus)"
            )
        if not pending:
            raise ValueError(f"{where}, cell {k}: {spec.id}'s check has no solution cell before it")
        for j in pending:
            if not re.search(rf"\b{spec.name}\b", nb.cells[j].source):
                raise ValueError(
                    f"{where}, cell {j}: a solution region with no check after it (the next "
                    f"check, cell {k}, is of {spec.name!r}, which this cell does not mention)"
                )
        before = nb.cells[pending[0] - 1] if pending[0] > 0 else None
        prompt = (
            pending[0] - 1
            if before is not None
            and before.cell_type == "markdown"
            and re.search(rf"\bExercise {spec.id}\b", before.source)
            else None
        )
        found.append(Question(spec.id, spec.name, spec.points, prompt, tuple(pending), k))
        pending = []
    if pending:
        raise ValueError(f"{where}, cell {pending[0]}: a solution region with no check after it")
    missing = [e.id for e in lesson.exercises if e.id not in {q.qid for q in found}]
    if missing:
        raise ValueError(f"{where}: no check cell for exercise(s) {', '.join(missing)}")
    return found


# ---- nbgrader --------------------------------------------------------------------------------


def _nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": NBGRADER_SCHEMA,
        "solution": solution,
    }
    if grade:
        meta["points"] = points
    return meta


def nbgrader_test_source(q: Question) -> str:
    """The autograded cell of exercise ``q``: run the course's check, fail unless correct."""
    var = f"_{q.qid}_result"
    return (
        f"# autograded ({q.points} points): the course's check of `{q.name}`\n"
        f"{var} = ex.{q.qid}.check({q.name})\n"
        f"display({var})\n"
        f'assert {var}.correct, f"{q.qid} is {{{var}.status.value}}"'
    )


def nbgrader_notebook(solution: nbformat.NotebookNode, lesson: LessonSpec):
    """The nbgrader source notebook of one lesson."""
    nb = _clean(solution, lesson)
    qs = questions(nb, lesson)
    role: dict[int, tuple[str, Question]] = {}
    for q in qs:
        role[q.check] = ("test", q)
        for k in q.solutions:
            role[k] = ("solution", q)
    for k, cell in enumerate(nb.cells):
        kind, q = role.get(k, ("locked", None))
        if kind == "test":
            cell.source = nbgrader_test_source(q)
            meta = _nbgrader_meta(f"{q.qid}-check", grade=True, locked=True, points=q.points)
        elif kind == "solution":
            n = q.solutions.index(k)
            gid = f"{q.qid}-{q.name}" + (f"-{n + 1}" if n else "")
            meta = _nbgrader_meta(gid.replace("_", "-"), solution=True)
        else:
            meta = _nbgrader_meta(f"cell-{lesson.id}-{k:03d}", locked=True)
        cell.metadata["nbgrader"] = meta
    return nb


# ---- Otter ---------------------------------------------------------------------------------


def otter_solution_source(source: str) -> str:
    """Rewrite ``### BEGIN/END SOLUTION`` regions for Otter Assign.

    Each region becomes a prompt (the course's stub, which only the student version keeps) and
    a ``# BEGIN SOLUTION NO PROMPT`` block (which only the solution version keeps).
    """
    lines = source.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        j = next(j for j in range(i + 1, len(lines)) if END.match(lines[j]))
        indent = m["indent"]
        stub = stub_source("\n".join(lines[i : j + 1])).splitlines()
        out.append(f'{indent}""" # BEGIN PROMPT')
        out.extend(stub)
        out.append(f'{indent}""" # END PROMPT')
        out.append(f"{indent}# BEGIN SOLUTION NO PROMPT")
        out.extend(lines[i + 1 : j])
        out.append(f"{indent}# END SOLUTION")
        i = j + 1
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def _raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def otter_notebook(solution: nbformat.NotebookNode, lesson: LessonSpec):
    """The Otter Assign master notebook of one lesson."""
    nb = _clean(solution, lesson)
    qs = questions(nb, lesson)
    stub_source("\n".join(c.source for c in nb.cells if c.cell_type == "code"))  # validates
    config = "\n".join(
        [
            "# ASSIGNMENT CONFIG",
            f"name: {lesson.slug}",
            "init_cell: true",
            "check_all_cell: false",
            "export_cell: false",
            "run_tests: true",
            "solutions_pdf: false",
            "template_pdf: false",
        ]
    )
    starts = {(q.prompt if q.prompt is not None else q.solutions[0]): q for q in qs}
    solution_cells = {k for q in qs for k in q.solutions}
    checks = {q.check: q for q in qs}
    cells = [_raw(config)]
    for k, cell in enumerate(nb.cells):
        if k in starts:
            q = starts[k]
            cells.append(_raw(f"# BEGIN QUESTION\nname: {q.qid}\npoints: {q.points}"))
        if k in solution_cells:
            cell.source = otter_solution_source(cell.source)
            cells.extend([_raw("# BEGIN SOLUTION"), cell, _raw("# END SOLUTION")])
        else:
            cells.append(cell)
        if k in checks:
            q = checks[k]
            test = nbformat.v4.new_code_cell(f"assert ex.{q.qid}.check({q.name}).correct")
            cells.extend([_raw("# BEGIN TESTS"), test, _raw("# END TESTS"), _raw("# END QUESTION")])
    nb.cells = cells
    for k, cell in enumerate(nb.cells):
        cell.id = f"{lesson.id}-{k:03d}"
    return nb


# ---- command ---------------------------------------------------------------------------------


def export(
    to: str,
    out: Path | str,
    lesson_ids: Sequence[str] | None = None,
    *,
    syllabus: Syllabus | None = None,
    solutions: Path | None = None,
) -> list[Path]:
    """Write the source notebooks of the chosen lessons (default: all) for ``to``; return them."""
    if to not in FORMATS:
        raise ValueError(f"to: expected one of {', '.join(FORMATS)}, got {to!r}")
    syl = syllabus if syllabus is not None else load_syllabus()
    src = solutions if solutions is not None else solutions_dir()
    out = Path(out)
    chosen = [syl.lesson(x) for x in lesson_ids] if lesson_ids else list(syl.lessons)
    written = []
    for lesson in chosen:
        sol = nbformat.read(src / lesson.notebook, as_version=4)
        if to == "nbgrader":
            nb = nbgrader_notebook(sol, lesson)
            target = out / "source" / lesson.slug / lesson.notebook
        else:
            nb = otter_notebook(sol, lesson)
            target = out / lesson.slug / lesson.notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    if to == "nbgrader" and not (out / "nbgrader_config.py").exists():
        (out / "nbgrader_config.py").write_text(
            "# nbgrader configuration of the course folder written by `rlcourse export`.\n"
            "c = get_config()  # noqa: F821\n"
            'c.CourseDirectory.course_id = "rlcourse"\n'
            "# Students' notebooks import the course: install it in the kernels that\n"
            "# autograde (pip install rlcourse's checkout) before `nbgrader autograde`.\n",
            encoding="utf-8",
        )
    return written
