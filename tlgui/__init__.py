"""tlgui: point-and-click transfer learning for image classification."""

from .torch_first import set_torch_environment

__version__ = "0.1.0"

set_torch_environment()  # before any module of tlgui imports torch (macOS: the MPS fallback)
