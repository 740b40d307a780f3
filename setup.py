"""Build hook: the wheel carries ``course/syllabus.toml`` as ``rlcourse/syllabus.toml``.

``course/syllabus.toml`` stays the one source; an installed package (a wheel, Colab, Binder)
reads the copy inside the package, because the lesson checks need the syllabus's names and
points. Everything else is configured in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SYLLABUS = Path("course") / "syllabus.toml"


class BuildPyWithSyllabus(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "rlcourse" / "syllabus.toml"
        self.mkpath(str(target.parent))
        self.copy_file(str(SYLLABUS), str(target))


setup(cmdclass={"build_py": BuildPyWithSyllabus})
