"""Dialogs a test opened: closed after each test (see tests/ui/conftest.py).

A parentless dialog the test let go of is deleted without being closed (qtbot only holds
weak references); closing each one here lets its background jobs end before the
dangling-thread check runs.
"""

open_dialogs: list = []


def close_open_dialogs() -> None:
    while open_dialogs:
        open_dialogs.pop().done(0)
