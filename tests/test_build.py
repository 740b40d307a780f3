"""`rlcourse build`: solution regions become stubs, lessons/ is checked for staleness."""

from __future__ import annotations

import shutil
import textwrap

import nbformat
import pytest

from rlcourse.build import BuildError, build, stub_source
from rlcourse.cli import main
from rlcourse.paths import lessons_dir, solutions_dir
from rlcourse.syllabus import load_syllabus


def test_function_body_becomes_raise_keeping_indentation():
    src = textwrap.dedent(
        """\
        def f(x):
            "doc"
            ### BEGIN SOLUTION
            y = x + 1
            return y
            ### END SOLUTION
        """
    )
    out = stub_source(src)
    assert out == 'def f(x):\n    "doc"\n    # YOUR CODE HERE\n    raise NotImplementedError\n'
    ns: dict = {}
    exec(out, ns)
    with pytest.raises(NotImplementedError):
        ns["f"](1)


def test_top_level_values_become_ellipsis():
    src = "a = 1\n### BEGIN SOLUTION\nk_star = 3\nx, y = 1, 2\n### END SOLUTION\nprint(a)"
    out = stub_source(src)
    assert out == "a = 1\n# YOUR CODE HERE\nk_star = ...\nx = ...\ny = ...\nprint(a)"
    exec(out, {})


def test_nested_method_keeps_its_indentation():
    src = (
        "class A:\n    def f(self):\n"
        "        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\n"
    )
    assert "        raise NotImplementedError" in stub_source(src)


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "without '### END"),
        ("x = 1\n### END SOLUTION\n", "without a matching BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "nested"),
        ("### BEGIN SOLUTION\ndef f():\n    pass\n### END SOLUTION\n", "inside its body"),
    ],
)
def test_malformed_markers(src, message):
    with pytest.raises(BuildError, match=message):
        stub_source(src)


def _copy_course(tmp_path):
    sol, les = tmp_path / "solutions", tmp_path / "lessons"
    shutil.copytree(solutions_dir(), sol)
    shutil.copytree(lessons_dir(), les)
    return sol, les


def test_repository_lessons_are_up_to_date():
    report = build(check=True)
    assert report.ok, (
        f"stale: {report.stale}, missing: {report.missing_solutions}, extra: {report.extra_lessons}"
    )


def test_editing_a_solution_cell_makes_check_fail(tmp_path):
    sol, les = _copy_course(tmp_path)
    syl = load_syllabus()
    assert build(check=True, syllabus=syl, solutions=sol, lessons=les).ok
    path = sol / syl.lessons[0].notebook
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    cell.source += "\n# an edit"
    nbformat.write(nb, path)
    report = build(check=True, syllabus=syl, solutions=sol, lessons=les)
    assert not report.ok and report.stale == (syl.lessons[0].notebook,)
    # building again brings it back in line, and is idempotent
    assert build(syllabus=syl, solutions=sol, lessons=les).written == (syl.lessons[0].notebook,)
    assert build(check=True, syllabus=syl, solutions=sol, lessons=les).ok
    assert build(syllabus=syl, solutions=sol, lessons=les).written == ()


def test_generated_lesson_content():
    syl = load_syllabus()
    for lesson in syl.lessons:
        sol = nbformat.read(solutions_dir() / lesson.notebook, as_version=4)
        nb = nbformat.read(lessons_dir() / lesson.notebook, as_version=4)
        assert nb.metadata["rlcourse"]["lesson"] == lesson.id
        assert "widgets" not in nb.metadata
        for cell in nb.cells:
            tags = cell.get("metadata", {}).get("tags", [])
            assert "solution-only" not in tags and "nbval-check-output" not in tags
            assert "### BEGIN SOLUTION" not in cell.source
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        dropped = sum("solution-only" in c.get("metadata", {}).get("tags", []) for c in sol.cells)
        assert len(nb.cells) == len(sol.cells) - dropped


def test_solution_only_cells_are_dropped(tmp_path):
    sol, les = _copy_course(tmp_path)
    syl = load_syllabus()
    path = sol / syl.lessons[0].notebook
    nb = nbformat.read(path, as_version=4)
    extra = nbformat.v4.new_markdown_cell("instructor note")
    extra.metadata["tags"] = ["solution-only"]
    nb.cells.insert(1, extra)
    nbformat.write(nb, path)
    build(syllabus=syl, solutions=sol, lessons=les)
    out = nbformat.read(les / syl.lessons[0].notebook, as_version=4)
    assert all("instructor note" not in c.source for c in out.cells)


def test_missing_and_extra_notebooks_are_reported(tmp_path):
    sol, les = _copy_course(tmp_path)
    syl = load_syllabus()
    (les / "99_stray.ipynb").write_text("{}")
    (sol / syl.lessons[0].notebook).unlink()
    report = build(check=True, syllabus=syl, solutions=sol, lessons=les)
    assert report.extra_lessons == ("99_stray.ipynb",)
    assert report.missing_solutions == (syl.lessons[0].notebook,)
    assert not report.ok


def test_cli_build_check(capsys):
    assert main(["build", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out
