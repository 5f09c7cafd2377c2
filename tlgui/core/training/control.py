"""The training loop's stop and pause flags (core.base.cancel's one stop protocol)."""

from __future__ import annotations

from tlgui.core.base.cancel import ControlFlags


class TrainControl(ControlFlags):
    """Thread-safe stop and pause flags, checked by the loop every batch.

    The loop reads ``stopped`` and calls ``wait_if_paused()`` between batches; the window (or the
    CLI's Ctrl+C handler) calls ``stop()``, ``pause()`` and ``resume()``. It is a
    :class:`~tlgui.core.base.cancel.PausableControl`, so every job that takes a stop flag takes it.
    """
