"""Stand-ins for the network, shared by the download tests (nothing here opens a socket)."""

from __future__ import annotations

from email.message import Message


class FakeResponse:
    """What urlopen returns: ``read(n)`` in blocks, optional Content-Length, optional failure.

    ``length``: -1 sends the true length, None sends none, a number sends that (a lie);
    ``fail_at``/``error``: raise ``error`` once ``fail_at`` bytes were read;
    ``on_read(response)``: called before every read (tests cancel from there);
    ``block``: at most this many bytes per read, so a cancel can land mid-file.
    """

    def __init__(self, data: bytes, length: int | None = -1, fail_at: int | None = None, error=None,
                 on_read=None, block: int | None = None):
        self.data, self.pos = data, 0
        self.headers = Message()
        if length is not None:
            self.headers["Content-Length"] = str(len(data) if length == -1 else length)
        self.fail_at, self.error, self.on_read, self.block = fail_at, error, on_read, block
        self.closed = False

    def read(self, n: int) -> bytes:
        if self.on_read:
            self.on_read(self)
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise self.error
        size = min(n, self.block) if self.block else n
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk

    def close(self):
        self.closed = True




def holding_control_class():
    """A TrainControl subclass whose ``holding`` event says the loop is held in wait_if_paused.

    Tests of Pause wait on that condition instead of sleeping and hoping the worker has
    reached the pause by then. ``made`` lists every instance (for a control the code under
    test creates itself). Imported on call so this module stays torch-free.
    """
    import threading

    from tlgui.core.training.control import TrainControl

    class HoldingControl(TrainControl):
        made: list = []

        def __init__(self) -> None:
            super().__init__()
            self.holding = threading.Event()
            HoldingControl.made.append(self)

        def wait_if_paused(self) -> None:
            # re-checked in a loop: a pause that lands between the check and the wait is
            # caught at the next batch, so `holding` is never missed
            while self.paused:
                self.holding.set()
                super().wait_if_paused()
            self.holding.clear()

    return HoldingControl


def holding_control():
    return holding_control_class()()
