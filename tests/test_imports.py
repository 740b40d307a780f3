"""`rlcourse._imports.without_iri_checker`: the course's own processes (grading workers, the
site's lesson runners and book build, the `rlcourse` command) skip jsonschema's optional IRI
checker, whose import alone costs about 1 s of CPU, and still read and validate notebooks."""

from __future__ import annotations

import subprocess
import sys

from rlcourse.paths import lessons_dir, project_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _last_line(script: str) -> str:
    """The last line a fresh interpreter running ``script`` prints (it must exit with 0)."""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]


def test_a_process_that_skips_it_still_reads_validates_and_refuses_notebooks():
    script = (
        "import sys\n"
        "from rlcourse._imports import without_iri_checker\n"
        "without_iri_checker()\n"
        "import nbformat\n"
        f"nb = nbformat.read({str(lessons_dir() / '00_welcome.ipynb')!r}, as_version=4)\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['cell_type'] = 'spreadsheet'\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "except nbformat.ValidationError:\n"
        "    print('refused', sys.modules['rfc3987_syntax'])\n"
    )
    assert _last_line(script) == "refused None"


def test_the_console_script_skips_it_and_returns_the_command_exit_code():
    project = tomllib.loads((project_root() / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["rlcourse"] == "rlcourse.cli:console"
    script = (
        "import sys\n"
        "from rlcourse import cli\n"
        "sys.argv = ['rlcourse', 'build', '--check']\n"
        "code = cli.console()\n"
        "print(code, sys.modules['rfc3987_syntax'], 'nbformat' in sys.modules)\n"
    )
    assert _last_line(script) == "0 None True"
