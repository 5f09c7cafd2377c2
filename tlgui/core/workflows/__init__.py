"""Jobs made of training runs: the transfer check, the demo, the advisor.

Importing this package registers the demo's ``demo:source`` weights with the library
(:mod:`tlgui.core.library.aliases`), so every entry point that trains imports it.
"""

from tlgui.core.workflows import demo as _demo  # noqa: F401  (registers demo:source)
