"""Generate ``lessons/`` from ``solutions/``.

For every lesson of the syllabus, ``solutions/NN_name.ipynb`` becomes ``lessons/NN_name.ipynb``:

* the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a stub that runs —
  inside a block (indented) ``raise NotImplementedError``; at the top level each assigned
  name becomes ``name = ...``; indentation is kept;
* cells tagged ``solution-only`` are dropped;
* outputs and execution counts are cleared, and the ``nbval-check-output`` tag is removed
  (a lesson has no outputs to compare);
* the notebook metadata records which lesson it is (``metadata.rlcourse.lesson``), which
  the grader reads;
* a first code cell is inserted that installs the course when the notebook runs on Google
  Colab (it clones ``repository`` of ``course/publish.toml`` and pip-installs it) and does
  nothing anywhere else (:func:`colab_cell_source`);
* every lesson cell gets a fixed id made of the lesson id and its position
  (``lesson-03-007``), so ids are unique across all lessons (a website built from them
  needs that) and the same on every build.

Cell ids in ``solutions/`` must be unique across notebooks too: an id that occurs more than
once gets its lesson id in front (``c003`` in lesson 03 becomes ``03-c003``), written back
to the solution notebook by ``rlcourse build`` (only the ids change); ``--check`` reports
such notebooks.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from rlcourse.paths import lessons_dir, solutions_dir
from rlcourse.publish import Publish, load_publish
from rlcourse.syllabus import Syllabus, load_syllabus

__all__ = [
    "BuildReport",
    "build",
    "colab_cell_source",
    "lesson_cell_id",
    "lesson_text",
    "solution_cell_ids",
    "stub_source",
]

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
SOLUTION_ONLY = "solution-only"
COLAB_TAG = "colab-setup"
COLAB_ROOT = "/content/rlcourse"
CHECK_OUTPUT_TAGS = ("nbval-check-output",)


class BuildError(ValueError):
    """A solution notebook that cannot be turned into a lesson."""


def _assigned_names(code: str) -> list[str]:
    """Top-level names assigned in ``code`` (in order, without repeats)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Name) and sub.id not in names:
                    names.append(sub.id)
    return names


def _defines_function(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body
    )


def stub_source(source: str, where: str = "cell") -> str:
    """Replace every ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region by a runnable stub."""
    out: list[str] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        if END.match(lines[i]):
            raise BuildError(f"{where}: '### END SOLUTION' without a matching BEGIN")
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        j = i + 1
        while j < len(lines) and not END.match(lines[j]):
            if BEGIN.match(lines[j]):
                raise BuildError(f"{where}: nested '### BEGIN SOLUTION'")
            j += 1
        if j == len(lines):
            raise BuildError(f"{where}: '### BEGIN SOLUTION' without '### END SOLUTION'")
        body = "\n".join(line[len(indent) :] for line in lines[i + 1 : j])
        if indent:
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f"{indent}raise NotImplementedError")
        else:
            if _defines_function(body):
                raise BuildError(
                    f"{where}: a top-level solution region defines a function or class; "
                    "put the markers inside its body so the lesson keeps the signature"
                )
            names = _assigned_names(body)
            out.append("# YOUR CODE HERE")
            out.extend(f"{name} = ..." for name in names)
        i = j + 1
    text = "\n".join(out)
    return text + ("\n" if source.endswith("\n") else "")


def colab_cell_source(publish: Publish) -> str:
    """The lesson's first code cell: on Colab, clone the course and install it; else nothing.

    Colab is recognised by its ``google.colab`` module being imported in the kernel. The
    package is installed from the clone (not in editable mode, so it imports at once) and
    ``RLCOURSE_ROOT`` points at the clone, where the syllabus lives.
    """
    q = json.dumps
    return (
        "# On Google Colab this cell fetches the course and installs it.\n"
        "# Anywhere else it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import os\n"
        "    import subprocess\n"
        "\n"
        f"    root = {q(COLAB_ROOT)}\n"
        "    if not os.path.isdir(root):\n"
        "        subprocess.run(\n"
        f'            ["git", "clone", "--depth", "1", "--branch", {q(publish.branch)},\n'
        f"             {q(publish.repository)}, root],\n"
        "            check=True,\n"
        "        )\n"
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet", root]\n'
        "    subprocess.run(pip, check=True)\n"
        '    os.environ["RLCOURSE_ROOT"] = root  # where the syllabus is\n'
    )


def _colab_cell(publish: Publish) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(colab_cell_source(publish))
    cell.metadata["tags"] = [COLAB_TAG]
    return cell


def lesson_cell_id(lesson_id: str, position: int) -> str:
    """The id of the cell at ``position`` (from 0) of lesson ``lesson_id``: ``lesson-03-007``."""
    return f"lesson-{lesson_id}-{position:03d}"


def solution_cell_ids(notebooks: Iterable[tuple[str, list[str]]]) -> dict[str, list[str]]:
    """Unique cell ids for solution notebooks given as ``(lesson_id, [cell ids])`` pairs.

    An id met only once anywhere is kept. Every other id gets its lesson id in front
    (``c003`` → ``03-c003``), then ``-2``, ``-3`` … if it is still repeated. Returns, per lesson
    id, the new list of ids (equal to the old one when nothing had to change).
    """
    notebooks = list(notebooks)
    counts = Counter(cid for _, ids in notebooks for cid in ids)
    out: dict[str, list[str]] = {}
    taken = {cid for cid, n in counts.items() if n == 1}
    for lesson_id, ids in notebooks:
        new = []
        for cid in ids:
            if counts[cid] == 1:
                new.append(cid)
                continue
            base = cid if cid.startswith(f"{lesson_id}-") else f"{lesson_id}-{cid}"
            candidate, n = base[:64], 1
            while candidate in taken:
                n += 1
                candidate = f"{base[:58]}-{n}"
            taken.add(candidate)
            new.append(candidate)
        out[lesson_id] = new
    return out


def lesson_notebook(
    solution: nbformat.NotebookNode, lesson_id: str, where: str, publish: Publish | None = None
):
    """The lesson notebook made from a solution notebook (a new object)."""
    publish = publish if publish is not None else load_publish()
    nb = nbformat.from_dict(solution)
    cells = []
    for k, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if SOLUTION_ONLY in tags or COLAB_TAG in tags:
            continue  # a solution's own Colab cell is replaced by the current one
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source, f"{where}, cell {k}")
            cell.outputs = []
            cell.execution_count = None
            kept = [t for t in tags if t not in CHECK_OUTPUT_TAGS]
            if kept != tags:
                cell.metadata["tags"] = kept
                if not kept:
                    del cell.metadata["tags"]
        elif "### BEGIN SOLUTION" in cell.source:
            raise BuildError(f"{where}, cell {k}: solution markers in a {cell.cell_type} cell")
        cells.append(cell)
    first_code = next((k for k, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, _colab_cell(publish))
    for position, cell in enumerate(cells):
        cell.id = lesson_cell_id(lesson_id, position)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # saved widget state belongs to executed outputs
    nb.metadata["rlcourse"] = {"lesson": lesson_id, "generated_from": f"solutions/{where}"}
    return nb


def lesson_text(solution_path: Path, lesson_id: str, publish: Publish | None = None) -> str:
    """The exact text ``rlcourse build`` writes for one solution notebook."""
    sol = nbformat.read(solution_path, as_version=4)
    nb = lesson_notebook(sol, lesson_id, solution_path.name, publish)
    return nbformat.writes(nb) + "\n"


@dataclass(frozen=True)
class BuildReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    stale: tuple[str, ...]
    missing_solutions: tuple[str, ...]
    extra_lessons: tuple[str, ...]
    #: solution notebooks whose cell ids were made unique (with ``check``: need to be)
    renumbered: tuple[str, ...] = field(default=())
    check: bool = False

    @property
    def ok(self) -> bool:
        bad_ids = self.check and bool(self.renumbered)
        return not (self.stale or self.missing_solutions or self.extra_lessons or bad_ids)


def _unique_solution_ids(paths: dict[str, Path], *, check: bool) -> list[str]:
    """Make cell ids unique across the solution notebooks; return the file names changed."""
    books = {lid: nbformat.read(path, as_version=4) for lid, path in paths.items()}
    wanted = solution_cell_ids(
        (lid, [c.get("id", "") for c in nb.cells]) for lid, nb in books.items()
    )
    changed = []
    for lid, nb in books.items():
        if [c.get("id", "") for c in nb.cells] == wanted[lid]:
            continue
        changed.append(paths[lid].name)
        if check:
            continue
        for cell, cid in zip(nb.cells, wanted[lid], strict=True):
            cell.id = cid
        tmp = paths[lid].with_suffix(".ipynb.tmp")
        tmp.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        tmp.replace(paths[lid])
    return changed


def build(
    *,
    check: bool = False,
    syllabus: Syllabus | None = None,
    solutions: Path | None = None,
    lessons: Path | None = None,
    publish: Publish | None = None,
) -> BuildReport:
    """Write (or with ``check=True`` only compare) every lesson of the syllabus."""
    syl = syllabus if syllabus is not None else load_syllabus()
    publish = publish if publish is not None else load_publish()
    src = solutions if solutions is not None else solutions_dir()
    dst = lessons if lessons is not None else lessons_dir()
    written, unchanged, stale, missing = [], [], [], []
    expected_names = {lesson.notebook for lesson in syl.lessons}
    present = {x.id: src / x.notebook for x in syl.lessons if (src / x.notebook).is_file()}
    renumbered = _unique_solution_ids(present, check=check)
    for lesson in syl.lessons:
        sol = src / lesson.notebook
        if not sol.is_file():
            missing.append(lesson.notebook)
            continue
        text = lesson_text(sol, lesson.id, publish)
        target = dst / lesson.notebook
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            unchanged.append(lesson.notebook)
        elif check:
            stale.append(lesson.notebook)
        else:
            dst.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".ipynb.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
            written.append(lesson.notebook)
    extra = (
        sorted(p.name for p in dst.glob("*.ipynb") if p.name not in expected_names)
        if dst.is_dir()
        else []
    )
    return BuildReport(
        tuple(written),
        tuple(unchanged),
        tuple(stale),
        tuple(missing),
        tuple(extra),
        renumbered=tuple(renumbered),
        check=check,
    )
