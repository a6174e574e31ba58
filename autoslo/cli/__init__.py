"""The `autoslo` command (typer): `app` and `main` in `app.py`, one module per command group.

Importing the package registers every command on `app`; the import order below is the order in
which `autoslo --help` lists them.
"""

from __future__ import annotations

# isort: off
from autoslo.cli import run  # noqa: F401  validate, tune, execute, plot, compare, simulate
from autoslo.cli import calibrate  # noqa: F401
from autoslo.cli import data  # noqa: F401  export, storage, live
from autoslo.cli import workload  # noqa: F401
from autoslo.cli import model  # noqa: F401
# isort: on
from autoslo.cli.app import app, main

__all__ = ["app", "main"]
