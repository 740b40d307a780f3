"""Optional dependencies, imported when first needed with an error that names the extra.

The core install (numpy, matplotlib, ipywidgets, tqdm) is enough for the lessons' checks,
widgets and plots. JupyterLab and the notebook tools (nbformat, nbclient) come with the
``lab`` extra: ``python -m pip install "rlcourse[lab]"``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require", "MissingExtra"]

_EXTRA_OF = {
    "nbformat": "lab",
    "nbclient": "lab",
    "jupyterlab": "lab",
    "ipykernel": "lab",
}


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, what: str = "this") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming the extra that installs it.

    ``what`` names the feature that needs it, e.g. ``"rlcourse grade"``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the module exists but one of its own imports is missing
        extra = _EXTRA_OF.get(top, "lab")
        raise MissingExtra(
            f"{what} needs {top}, which is not installed; it comes with the `{extra}` extra: "
            f'python -m pip install "rlcourse[{extra}]" (or -e ".[{extra}]" in a checkout)',
            name=top,
        ) from None
