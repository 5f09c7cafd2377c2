"""The training strategies (head only, fine-tune, scratch) live in :mod:`tlgui.core.base.strategy`,
low enough for the rank's progress events to carry them; this name stays for those who import it here."""

from tlgui.core.base.strategy import Strategy

__all__ = ["Strategy"]
