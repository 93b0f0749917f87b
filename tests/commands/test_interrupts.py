"""Interrupts end a command cleanly: a signal swallowed where it was raised is raised again at
the next step, and an interrupted command leaves without Python's teardown."""

import gc
import os
import signal
import threading
import time

import pytest

from mesascope.commands import common


def test_a_signal_swallowed_in_a_gc_callback_is_raised_at_the_next_step():
    """Python ignores exceptions raised in garbage-collection callbacks; JAX has one, and a
    SIGTERM that landed there let a run finish (the kill-stage test saw it in CI)."""

    def swallow(phase, info):
        if phase == "start":
            gc.callbacks.remove(swallow)
            os.kill(os.getpid(), signal.SIGTERM)  # its KeyboardInterrupt is raised here, and lost
            time.sleep(0.1)

    assert threading.current_thread() is threading.main_thread()  # else no handler: SIGTERM would end the test process
    with common.sigterm_as_interrupt(), common.progress_reporter() as progress:
        gc.callbacks.append(swallow)
        gc.collect()
        assert swallow not in gc.callbacks  # the signal was delivered inside the callback
        with pytest.raises(KeyboardInterrupt):
            progress("the next step", 0, 1)
    with common.sigterm_as_interrupt(), common.progress_reporter() as progress:
        progress("a later command is not interrupted by the old signal", 0, 1)


def test_an_interrupted_command_ends_without_interpreter_teardown(monkeypatch):
    """Exit 130 (Ctrl-C, SIGTERM) leaves through os._exit: tearing Python down around JAX's
    running threads segfaulted (exit 139) in most interrupted runs. Other exits are unchanged."""
    from mesascope import cli

    class Left(Exception):
        pass

    def leave(code):
        raise Left(code)

    monkeypatch.setattr(cli.os, "_exit", leave)
    for code, expected in ((130, Left), (2, SystemExit), (0, SystemExit)):
        def app(code=code):
            raise SystemExit(code)

        monkeypatch.setattr(cli, "app", app)
        with pytest.raises(expected) as raised:
            cli.main()
        assert raised.value.args[0] == code

