"""A signal handler's exception found behind the wrappers libraries put around it."""
from __future__ import annotations

import importlib

import pytest

from autoslo.atomic import raised_within, unwrapped

cli_app = importlib.import_module("autoslo.cli.app")


def _wrapped_by_numba_like_code(signal_exc: BaseException) -> SystemError:
    """What numba gives when a handler raises inside `_numba_unpickle`: SystemErrors chained."""
    try:
        try:
            raise signal_exc
        except BaseException as inner:
            raise SystemError("returned a result with an exception set") from inner
    except SystemError as outer:
        try:
            raise SystemError("returned a result with an exception set") from outer
        except SystemError as top:
            return top


def test_the_interrupt_is_found_behind_chained_system_errors() -> None:
    interrupt = cli_app.Interrupted(15)
    assert raised_within(_wrapped_by_numba_like_code(interrupt), cli_app.Interrupted) is interrupt
    assert raised_within(SystemError("plain"), cli_app.Interrupted) is None
    assert raised_within(None, KeyboardInterrupt) is None


def test_a_cycle_in_the_chain_ends_the_walk() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__cause__, second.__cause__ = second, first
    assert raised_within(first, KeyError) is None


def test_the_command_line_exits_130_on_a_wrapped_interrupt(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    def app(**_kwargs: object) -> None:
        raise _wrapped_by_numba_like_code(cli_app.Interrupted(15))

    monkeypatch.setattr(cli_app, "app", app)
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted (SIGTERM): nothing half-written was left"


def test_unwrapped_lets_the_signal_out_as_itself_and_other_errors_unchanged() -> None:
    interrupt = KeyboardInterrupt("SIGINT")
    with pytest.raises(KeyboardInterrupt) as caught, unwrapped(KeyboardInterrupt):
        raise _wrapped_by_numba_like_code(interrupt)
    assert caught.value is interrupt
    with pytest.raises(SystemError, match="plain"), unwrapped(KeyboardInterrupt):
        raise SystemError("plain")
