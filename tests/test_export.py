"""`rlcourse export --to nbgrader|otter`: the source notebooks, and round trips through both
tools (generate the student version, autograde a solved, an untouched and a half-done lesson)."""

from __future__ import annotations

import re
import shutil
import time

import nbformat
import pytest
from solution_code import leaked, solution_lines, without_markers

from rlcourse.build import stub_source
from rlcourse.cli import main
from rlcourse.export import export, nbgrader_notebook, otter_notebook, questions
from rlcourse.paths import lessons_dir, project_root, solutions_dir
from rlcourse.syllabus import load_syllabus

# noise from the tools themselves (nbgrader's database layer, Otter's use of pandas)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Object of type .* not in session"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame"),
]

SYL = load_syllabus()
L00 = SYL.lesson("00")


def _solution(lesson):
    return nbformat.read(solutions_dir() / lesson.notebook, as_version=4)


def _in_notebook_order(lesson):
    """The lesson's exercises in the order the notebook checks them (lesson 09 asks q4 before
    q3), which is the order an export lays them out."""
    code = _code(_solution(lesson))
    return sorted(lesson.exercises, key=lambda e: code.index(f"ex.{e.id}.check("))


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def _fill(student, names):
    """A copy of a student notebook where the exercises ``names`` are solved."""
    nb = nbformat.from_dict(student)
    sol = _solution(L00)
    for name in names:
        answer = next(c for c in sol.cells if c.cell_type == "code" and f"def {name}(" in c.source)
        cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)
        assert "NotImplementedError" in cell.source
        cell.source = without_markers(answer.source)
    return nb


@pytest.fixture
def quiet_checks(monkeypatch):
    """Kernels started by the tools record no progress and find the course; the tools' kernel
    clients wait for replies in slices (``rlcourse._nbexec``): nbgrader and Otter execute
    through nbclient, whose single unbounded wait hung about one run in ten of this file
    under load, on lesson 00's widget cells."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    from rlcourse._nbexec import sliced

    monkeypatch.setenv("RLCOURSE_PROGRESS", "off")
    monkeypatch.setenv("RLCOURSE_ROOT", str(project_root()))
    plain = AsyncZMQSocketChannel.get_msg

    def get_msg(self, timeout=None):
        return sliced(lambda **kw: plain(self, **kw))(timeout)

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", get_msg)


# ---- the exported notebooks ------------------------------------------------------------------


@pytest.mark.parametrize("lesson", SYL.lessons, ids=lambda x: x.id)
def test_nbgrader_source_marks_solutions_tests_and_locks(lesson):
    nb = nbgrader_notebook(_solution(lesson), lesson)
    metas = [c.metadata["nbgrader"] for c in nb.cells]
    assert len({m["grade_id"] for m in metas}) == len(metas)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", m["grade_id"]) for m in metas)
    tests = [(c, m) for c, m in zip(nb.cells, metas, strict=True) if m["grade"]]
    exercises = _in_notebook_order(lesson)
    assert [m["points"] for _, m in tests] == [e.points for e in exercises]
    for (cell, m), e in zip(tests, exercises, strict=True):
        assert m["locked"] and not m["solution"]
        assert f"ex.{e.id}.check({e.name})" in cell.source and "assert " in cell.source
    for cell, m in zip(nb.cells, metas, strict=True):
        assert m["solution"] == ("### BEGIN SOLUTION" in cell.source)
        assert m["locked"] != m["solution"]
        assert "solution-only" not in cell.metadata.get("tags", [])
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("lesson", SYL.lessons, ids=lambda x: x.id)
def test_otter_source_has_one_question_per_exercise(lesson):
    nb = otter_notebook(_solution(lesson), lesson)
    raw = [c.source for c in nb.cells if c.cell_type == "raw"]
    assert raw[0].startswith("# ASSIGNMENT CONFIG") and f"name: {lesson.slug}" in raw[0]
    heads = [s for s in raw if s.startswith("# BEGIN QUESTION")]
    assert heads == [
        f"# BEGIN QUESTION\nname: {e.id}\npoints: {e.points}" for e in _in_notebook_order(lesson)
    ]
    code = _code(nb)
    assert "### BEGIN SOLUTION" not in code
    assert code.count("# BEGIN SOLUTION NO PROMPT") == code.count('""" # BEGIN PROMPT')
    for e in lesson.exercises:
        assert f"assert ex.{e.id}.check({e.name}).correct" in code


def test_otter_student_cells_are_the_lessons_stubs():
    """Otter's own stripping of our markers gives exactly the stub `rlcourse build` writes."""
    solutions = pytest.importorskip("otter.assign.solutions")
    for lesson in SYL.lessons:
        nb = otter_notebook(_solution(lesson), lesson)
        public = _code(nbformat.read(lessons_dir() / lesson.notebook, as_version=4))
        for cell in nb.cells:
            if cell.cell_type == "code" and "# BEGIN SOLUTION" in cell.source:
                student = "\n".join(solutions.replace_solutions(cell.source.split("\n"), "python"))
                assert student.strip() in public
                assert student == stub_source(without_markers_otter(cell.source))


def without_markers_otter(source: str) -> str:
    """Back from Otter's markers to the course's (prompt dropped)."""
    out, skip = [], False
    for line in source.split("\n"):
        if line.rstrip().endswith('""" # BEGIN PROMPT'):
            skip = True
        elif line.rstrip().endswith('""" # END PROMPT'):
            skip = False
        elif not skip:
            out.append(
                line.replace("# BEGIN SOLUTION NO PROMPT", "### BEGIN SOLUTION").replace(
                    "# END SOLUTION", "### END SOLUTION"
                )
            )
    return "\n".join(out)


def test_export_writes_each_tools_layout(tmp_path, capsys):
    assert main(["export", "--to", "nbgrader", str(tmp_path / "n"), "--lesson", "00"]) == 0
    assert (tmp_path / "n" / "source" / "00_welcome" / "00_welcome.ipynb").is_file()
    assert (tmp_path / "n" / "nbgrader_config.py").is_file()
    assert main(["export", "--to", "otter", str(tmp_path / "o")]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [x.slug for x in SYL.lessons]
    assert "otter assign" in capsys.readouterr().out


def test_export_errors():
    with pytest.raises(ValueError, match="to: expected one of nbgrader, otter, got 'moodle'"):
        export("moodle", "x")
    nb = _solution(L00)
    checks = [
        k for k, c in enumerate(nb.cells) if c.source.strip() == "ex.q2.check(bellman_backup)"
    ]
    del nb.cells[checks[0]]
    with pytest.raises(ValueError, match="a solution region with no check after it"):
        questions(nb, L00)


@pytest.mark.parametrize("lesson", SYL.lessons, ids=lambda x: x.id)
def test_student_versions_hold_no_solution_code(lesson, tmp_path):
    """Each tool's own stripping, on every lesson: nbgrader's ClearSolutions, Otter Assign."""
    clear = pytest.importorskip("nbgrader.preprocessors").ClearSolutions
    assign = pytest.importorskip("otter.assign").main
    lines = solution_lines(lesson)
    nb, _ = clear().preprocess(nbgrader_notebook(_solution(lesson), lesson), {})
    assert leaked(lines, _code(nb)) == [] and "BEGIN SOLUTION" not in _code(nb)
    (master,) = export("otter", tmp_path / "src", [lesson.id])
    assign(str(master), str(tmp_path / "dist"), no_run_tests=True)
    student = nbformat.read(tmp_path / "dist" / "student" / lesson.notebook, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert leaked(lines, text) == [] and "BEGIN SOLUTION" not in text


# ---- round trips -------------------------------------------------------------------------------


def test_nbgrader_round_trip(tmp_path, quiet_checks):
    """generate_assignment, then autograde: solution 8/8, untouched 0/8, q1 done 2/8."""
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    course = tmp_path / "course"
    export("nbgrader", course, ["00"])
    config = Config()
    config.CourseDirectory.root = str(course)
    config.Exchange.root = str(tmp_path / "exchange")
    config.ExecutePreprocessor.timeout = 120
    api = NbGraderAPI(config=config)
    started = time.perf_counter()
    result = api.generate_assignment(L00.slug)
    assert result["success"], result["log"]
    release = nbformat.read(course / "release" / L00.slug / L00.notebook, as_version=4)
    text = "\n".join(c.source for c in release.cells)
    assert leaked(solution_lines(L00), text) == []
    assert "### BEGIN SOLUTION" not in text
    submissions = {
        "solved": _fill(release, ["discounted_return", "bellman_backup", "value_iteration"]),
        "untouched": release,
        "half": _fill(release, ["discounted_return"]),
    }
    scores = {}
    for student, nb in submissions.items():
        folder = course / "submitted" / student / L00.slug
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / L00.notebook)
        result = api.autograde(L00.slug, student)
        assert result["success"], result["log"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions:
            sub = gb.find_submission(L00.slug, student)
            scores[student] = (sub.score, sub.max_score)
    print(f"nbgrader round trip {time.perf_counter() - started:.1f} s: {scores}")
    assert scores == {"solved": (8.0, 8.0), "untouched": (0.0, 8.0), "half": (2.0, 8.0)}


def test_otter_round_trip(tmp_path, quiet_checks):
    """otter assign, then grade without a container: solution 8/8, untouched 0/8, q1 done 2/8."""
    pytest.importorskip("otter")
    from otter.api import grade_submission
    from otter.assign import main as assign

    (master,) = export("otter", tmp_path / "src", ["00"])
    dist = tmp_path / "dist"
    started = time.perf_counter()
    assign(str(master), str(dist), no_run_tests=True)  # the grading below runs the tests
    student = nbformat.read(dist / "student" / L00.notebook, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert leaked(solution_lines(L00), text) == []
    assert "BEGIN SOLUTION" not in text and "BEGIN PROMPT" not in text
    (zip_path,) = (dist / "autograder").glob("*.zip")
    submissions = {
        "solved": _fill(student, ["discounted_return", "bellman_backup", "value_iteration"]),
        "untouched": student,
        "half": _fill(student, ["discounted_return"]),
    }
    scores = {}
    for name, nb in submissions.items():
        path = tmp_path / name / L00.notebook
        path.parent.mkdir()
        nbformat.write(nb, path)
        results = grade_submission(str(path), str(zip_path), quiet=True)
        scores[name] = (results.total, results.possible)
    print(f"otter round trip {time.perf_counter() - started:.1f} s: {scores}")
    assert scores == {"solved": (8.0, 8.0), "untouched": (0.0, 8.0), "half": (2.0, 8.0)}
    shutil.rmtree(dist)
