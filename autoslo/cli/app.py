"""The typer app of the `autoslo` command, its root options and the console entry point.

The commands live in the modules beside this one (run, calibrate, data, workload, model), which
register themselves on `app`; heavy libraries load only inside the commands that need them, so
``autoslo --help`` answers at once. User mistakes (`AutosloError`) print one line per problem on
stderr and exit with code 2. Ctrl-C (SIGINT) and SIGTERM stop the command: the stack unwinds (so
temporary files are removed and nothing half-written is renamed into place), one line on stderr
says how to resume where the command can, and the exit code is 130.
"""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from autoslo.errors import AutosloError

app = typer.Typer(
    name="autoslo",
    help="Find the cheapest Amazon Redshift execution config that meets your latency SLOs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Data root (default: $AUTOSLO_DATA_DIR or ./data).")] = None,
) -> None:
    from autoslo.datatree import DataTree

    ctx.obj = DataTree(data_dir)


def sub_app(help_text: str) -> typer.Typer:
    """A command group (`autoslo workload ...`) with the same conventions as the root."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def warn(line: str) -> None:
    """Print a warning line on stderr (the callback the library functions take)."""
    typer.echo(line, err=True)


def command_line() -> str:
    """The command as typed (recorded in model.yml), with the program name shortened to autoslo."""
    return " ".join(["autoslo", *(shlex.quote(a) for a in sys.argv[1:])])


def usage_line(exc: Exception) -> str:
    """A click usage error as one line: the command, what is wrong (with the value given, which
    click's own messages sometimes leave out), where the help is."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "autoslo"
    message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
    given = _given_value(getattr(exc, "param", None))
    if given is not None and repr(given) not in message:
        message = f"{message.rstrip('.')}, got {given!r}"
    return f"{path}: {message} (see `{path} --help`)"


def _given_value(param: object) -> str | None:
    """The value typed after an option (``--factor fast`` or ``--factor=fast``), if any."""
    args = sys.argv[1:]
    for opt in getattr(param, "opts", []) if getattr(param, "param_type_name", "") == "option" else []:
        for index, arg in enumerate(args):
            if arg == opt and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(f"{opt}="):
                return arg.split("=", 1)[1]
    return None


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwind past every `except Exception` (libraries that catch
    KeyboardInterrupt to carry on, like Ray Tune's, do not see it) and exit 130."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_resume: list[str] = []


def resume_hint(text: str) -> None:
    """Say how to resume the running command if it is interrupted (printed after "interrupted")."""
    _resume[:] = [text]


def _interrupt(signum: int, _frame: object) -> None:
    """The handler of SIGINT and SIGTERM: the first raises `Interrupted` (at once, or when the
    `uninterrupted` block running ends), later ones are ignored (so the unwinding that removes
    temporary files is not cut short)."""
    from autoslo.atomic import raise_when_safe

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise_when_safe(Interrupted(signum))


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and exit code 2; SIGINT and
    SIGTERM one line and exit code 130."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    _resume.clear()
    try:
        _run()
    except Interrupted as exc:
        how = _resume[0] if _resume else "nothing half-written was left"
        sys.stderr.write(f"interrupted ({exc}): {how}\n")
        sys.exit(130)
    finally:  # called in-process (tests), the caller's handlers come back
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run() -> None:
    """The app, with user mistakes as one line on stderr and exit code 2."""
    from autoslo.atomic import unwrapped

    try:
        with unwrapped(Interrupted):  # a signal wrapped by a library is still a signal
            result = app(standalone_mode=False, prog_name="autoslo")
    except AutosloError as exc:
        typer.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # usage errors of typer's bundled click: one line naming the command, exit 2
        if callable(getattr(exc, "format_message", None)) and isinstance(
                getattr(exc, "exit_code", None), int):
            typer.echo(usage_line(exc), err=True)
            sys.exit(2)
        raise
    sys.exit(result if isinstance(result, int) else 0)
