"""Named weight sources such as ``--weights demo:source``, provided by a higher layer.

The demo's source model is trained by a workflow (``tlgui.core.workflows.demo``), which
sits above training; training only needs "a path for this name". The workflow registers
its resolver here when it is imported, so no lower layer imports a higher one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tlgui.core.base.cancel import PausableControl
from tlgui.core.base.errors import WeightsError

# resolve(on_event, control) -> path of a weight file or tlgui model, creating it if needed
Resolver = Callable[..., Path]


@dataclass(frozen=True)
class WeightsAlias:
    name: str
    architecture: str  # the only --model it fits
    resolve: Resolver


_ALIASES: dict[str, WeightsAlias] = {}


def register_weights_alias(name: str, architecture: str, resolve: Resolver) -> None:
    _ALIASES[name] = WeightsAlias(name, architecture, resolve)


def is_weights_alias(spec: str) -> bool:
    """True for names that look like an alias (``demo:source``), registered or not."""
    return ":" in spec and not Path(spec).expanduser().exists() and spec.split(":", 1)[0].isidentifier() \
        and len(spec.split(":", 1)[0]) > 1


def resolve_weights_alias(spec: str, architecture: str, on_event=None,
                          control: PausableControl | None = None) -> Path:
    alias = _ALIASES.get(spec)
    if alias is None:
        known = ", ".join(sorted(_ALIASES)) or "none registered"
        raise WeightsError(f"unknown weights name {spec!r} (known names: {known}; or give a file path)")
    if architecture != alias.architecture:
        raise WeightsError(f"--weights {spec} only fits --model {alias.architecture}")
    return Path(alias.resolve(on_event, control))
