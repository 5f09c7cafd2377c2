"""How to train a pretrained backbone on new data: the head only, fine-tune it all, or from scratch.

The rank, the advisor and the transfer check advise one; the Train page turns it into a freeze
plan (``Strategy.freeze``, a ``--freeze`` value) and, for scratch, no pretrained weights.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # Python 3.10: the same behaviour, spelled out

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class Strategy(StrEnum):
    """A str (``Strategy.HEAD == "head"``), so JSON and the command line keep the plain words."""

    HEAD = "head"
    FINETUNE = "finetune"
    SCRATCH = "scratch"

    @property
    def freeze(self) -> str:
        """The freeze plan (``--freeze``) this strategy trains with."""
        return "backbone" if self is Strategy.HEAD else "none"

    @property
    def uses_weights(self) -> bool:
        """False for scratch: it starts from random weights."""
        return self is not Strategy.SCRATCH
