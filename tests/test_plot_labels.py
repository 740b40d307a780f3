"""Figure and widget labels use Matplotlib's mathtext for math: every ``$...$`` in a label
parses, and no raw TeX-like text (``Q_{k,m}``, ``γ^t``, combining hats) is left outside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from matplotlib.mathtext import MathTextParser

SRC = Path(__file__).resolve().parents[1] / "src" / "rlcourse"
FILES = sorted([*SRC.joinpath("plots").glob("*.py"), *SRC.joinpath("widgets").glob("*.py")])


def _label_strings(path: Path) -> list[tuple[int, str]]:
    """String literals (f-strings with placeholders filled) that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "1.5" for v in node.values)
            out.append((node.lineno, text))
            for v in node.values:
                docstrings.add(id(v))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            out.append((node.lineno, node.value))
    return out


_RAW = re.compile(r"_\{|\^[{*A-Za-z0-9(]|\u0302|[A-Za-z]_[A-Za-z0-9]\b")


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_labels_use_mathtext(path):
    parser = MathTextParser("agg")
    for line, text in _label_strings(path):
        if "$" in text and text.count("$") % 2 == 0:
            parser.parse(text)  # raises ValueError on bad mathtext
        outside = re.sub(r"\$[^$]*\$", "", text)
        if " " not in text and "_" in text:
            continue  # an identifier or key ("tab:red", "final_actions"), not a label
        assert not _RAW.search(outside), f"{path.name}:{line}: raw math outside $...$: {text!r}"
