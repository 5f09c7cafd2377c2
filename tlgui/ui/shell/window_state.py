"""What the window remembers between sessions: choices, geometry, splitter positions."""

from __future__ import annotations

from PySide6.QtCore import QByteArray


def _encode(data) -> str:
    return bytes(data.toBase64()).decode("ascii")


def _decode(text: str) -> QByteArray:
    return QByteArray.fromBase64(text.encode("ascii"))


def remember(window) -> None:
    """Copy the window's current choices and layout into ``window.settings`` (not saved yet)."""
    s = window.settings
    if window.model_panel is not None:
        model = window.model_panel.choice()
        s.model, s.weights = model.architecture, model.weights
    if window.dataset_panel is not None:
        data = window.dataset_panel.choice()
        s.data, s.val_data = data.data, data.val_data
        s.split, s.val_split = data.split, float(data.val_split)
        try:
            s.image_values = dict(window.dataset_panel.image_choices())
        except Exception:  # noqa: BLE001 - a half-typed value: keep the last good one
            pass
    if window.layer_panel is not None:
        plan = window.layer_panel.plan()
        s.freeze, s.bn_update_frozen = plan.to_spec(), bool(plan.bn_update_frozen)
    try:
        s.training = window.training_panel.values()
    except ValueError:
        pass  # keep the last good training values
    s.geometry = _encode(window.saveGeometry())
    s.window_state = _encode(window.saveState())
    s.splitters = {sp.objectName(): _encode(sp.saveState()) for sp in (window.top_splitter, window.main_splitter)}


def restore(window) -> None:
    """Geometry and splitters from ``window.settings``; a sensible default size otherwise."""
    s = window.settings
    restored = bool(s.geometry) and window.restoreGeometry(_decode(s.geometry))
    if not restored:
        window.resize(1280, 800)
    if s.window_state:
        window.restoreState(_decode(s.window_state))
    for splitter in (window.top_splitter, window.main_splitter):
        state = s.splitters.get(splitter.objectName())
        if state:
            splitter.restoreState(_decode(state))
