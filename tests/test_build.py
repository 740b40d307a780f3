"""`rlcourse build`: solution regions become stubs, lessons/ is checked for staleness."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import types

import nbformat
import pytest

from rlcourse.build import (
    COLAB_ROOT,
    BuildError,
    build,
    colab_cell_source,
    lesson_cell_id,
    solution_cell_ids,
    stub_source,
)
from rlcourse.cli import main
from rlcourse.paths import lessons_dir, solutions_dir
from rlcourse.publish import Publish, load_publish
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
        assert len(nb.cells) == len(sol.cells) - dropped + 1  # + the Colab cell


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


def test_solution_cell_ids_prefix_only_what_repeats():
    got = solution_cell_ids([("00", ["a", "c1", "c2"]), ("01", ["c1", "b", "b"])])
    assert got == {"00": ["a", "00-c1", "c2"], "01": ["01-c1", "01-b", "01-b-2"]}
    flat = [cid for ids in got.values() for cid in ids]
    assert len(flat) == len(set(flat))
    # already unique: nothing changes (so building twice changes nothing)
    assert solution_cell_ids(got.items()) == got


def test_cell_ids_are_unique_across_all_notebooks():
    syl = load_syllabus()
    for folder in (solutions_dir(), lessons_dir()):
        ids = [
            cell.id
            for lesson in syl.lessons
            for cell in nbformat.read(folder / lesson.notebook, as_version=4).cells
        ]
        assert len(ids) == len(set(ids)), f"repeated cell ids in {folder.name}/"
    for lesson in syl.lessons:
        nb = nbformat.read(lessons_dir() / lesson.notebook, as_version=4)
        expected = [lesson_cell_id(lesson.id, k) for k in range(len(nb.cells))]
        assert [c.id for c in nb.cells] == expected


def test_build_makes_repeated_solution_ids_unique_changing_nothing_else(tmp_path):
    sol, les = _copy_course(tmp_path)
    syl = load_syllabus()
    first, second = (sol / syl.lessons[i].notebook for i in (0, 1))
    nb1, nb2 = nbformat.read(first, as_version=4), nbformat.read(second, as_version=4)
    nb2.cells[3].id = nb1.cells[5].id
    nbformat.write(nb2, second)
    old = nbformat.read(second, as_version=4)
    first_text = first.read_text()
    report = build(check=True, syllabus=syl, solutions=sol, lessons=les)
    assert not report.ok and report.renumbered == (second.name,)
    report = build(syllabus=syl, solutions=sol, lessons=les)
    assert report.renumbered == (second.name,)
    assert report.written == ()  # lesson ids do not depend on solution ids
    assert first.read_text() == first_text  # the id already carrying its lesson stays
    after = nbformat.read(second, as_version=4)
    assert after.cells[3].id == f"{syl.lessons[1].id}-{nb1.cells[5].id}"
    pairs = list(zip(old.cells, after.cells, strict=True))
    assert sum(a.id != b.id for a, b in pairs) == 1
    for a, b in pairs:
        a.pop("id"), b.pop("id")
    assert old == after
    assert build(check=True, syllabus=syl, solutions=sol, lessons=les).ok


def _first_code_cell(lesson):
    nb = nbformat.read(lessons_dir() / lesson.notebook, as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code")


def _run_colab_cell(source, monkeypatch, *, on_colab, cloned=False):
    """Execute a Colab cell with subprocess.run recorded instead of run."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: cloned if p == COLAB_ROOT else real_isdir(p))
    monkeypatch.setenv("RLCOURSE_ROOT", "before")  # restored after the test
    if on_colab:
        google = types.ModuleType("google")
        google.colab = types.ModuleType("google.colab")
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls, os.environ["RLCOURSE_ROOT"]


@pytest.mark.parametrize("lesson", load_syllabus().lessons, ids=lambda x: x.id)
def test_first_code_cell_installs_the_course_on_colab(lesson, monkeypatch):
    cell = _first_code_cell(lesson)
    publish = load_publish()
    assert cell.source == colab_cell_source(publish)
    assert cell.metadata["tags"] == ["colab-setup"]
    calls, root = _run_colab_cell(cell.source, monkeypatch, on_colab=True)
    assert [cmd for cmd, _ in calls] == [
        ["git", "clone", "--depth", "1", "--branch", publish.branch]
        + [publish.repository, COLAB_ROOT],
        [sys.executable, "-m", "pip", "install", "--quiet", COLAB_ROOT],
    ]
    assert all(kw == {"check": True} for _, kw in calls)
    assert root == COLAB_ROOT


def test_colab_cell_does_nothing_elsewhere_and_does_not_clone_twice(monkeypatch):
    source = _first_code_cell(load_syllabus().lessons[0]).source
    assert _run_colab_cell(source, monkeypatch, on_colab=False) == ([], "before")
    calls, _ = _run_colab_cell(source, monkeypatch, on_colab=True, cloned=True)
    assert [cmd[3] for cmd, _ in calls] == ["install"]


def test_colab_cell_follows_the_publish_file(tmp_path):
    sol, les = _copy_course(tmp_path)
    syl = load_syllabus()
    fork = Publish(repository="https://example.org/me/my-course.git", branch="fall-2026")
    assert build(syllabus=syl, solutions=sol, lessons=les, publish=fork).written
    nb = nbformat.read(les / syl.lessons[3].notebook, as_version=4)
    source = next(c for c in nb.cells if c.cell_type == "code").source
    assert '"fall-2026"' in source and '"https://example.org/me/my-course.git"' in source
    # a solution that already has a Colab cell gets the current one, once
    path = sol / syl.lessons[3].notebook
    snb = nbformat.read(path, as_version=4)
    old = nbformat.v4.new_code_cell("# an old colab cell")
    old.metadata["tags"] = ["colab-setup"]
    snb.cells.insert(0, old)
    nbformat.write(snb, path)
    build(syllabus=syl, solutions=sol, lessons=les, publish=fork)
    nb2 = nbformat.read(les / syl.lessons[3].notebook, as_version=4)
    assert [c.source for c in nb2.cells] == [c.source for c in nb.cells]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repository": "github.com/x/y"}, "repository: expected an http"),
        ({"repository": "https://github.com/x/y", "branch": "a b"}, "branch: expected"),
        ({"repository": "https://github.com/x/y", "jupyterhub": "hub"}, "jupyterhub: expected"),
    ],
)
def test_publish_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Publish(**kwargs)


def test_publish_file_errors_name_the_key(tmp_path):
    path = tmp_path / "publish.toml"
    path.write_text('repository = "https://github.com/x/y"\nbinder = "https://mybinder.org"\n')
    with pytest.raises(ValueError, match="unknown keys \\['binder'\\]"):
        load_publish(path)
    path.write_text('branch = "main"\n')
    with pytest.raises(ValueError, match="'repository' is missing"):
        load_publish(path)
    path.write_text('repository = "https://github.com/o/n.git"\n')
    assert load_publish(path).github == ("o", "n")
