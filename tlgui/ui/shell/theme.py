"""Light/dark appearance. ``TLGUI_THEME=light|dark|system`` (default: system)."""

from __future__ import annotations

import os

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEME_ENV = "TLGUI_THEME"


def dark_palette() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(225, 225, 225)
    p.setColor(roles.Window, window)
    p.setColor(roles.WindowText, text)
    p.setColor(roles.Base, base)
    p.setColor(roles.AlternateBase, QColor(40, 40, 43))
    p.setColor(roles.ToolTipBase, QColor(60, 60, 64))
    p.setColor(roles.ToolTipText, text)
    p.setColor(roles.PlaceholderText, QColor(140, 140, 140))
    p.setColor(roles.Text, text)
    p.setColor(roles.Button, QColor(55, 55, 59))
    p.setColor(roles.ButtonText, text)
    p.setColor(roles.BrightText, QColor(255, 80, 80))
    p.setColor(roles.Link, QColor(100, 170, 255))
    p.setColor(roles.Highlight, QColor(42, 110, 200))
    p.setColor(roles.HighlightedText, QColor(255, 255, 255))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(disabled, role, QColor(120, 120, 120))
    return p


def apply_theme(app: QApplication, name: str | None = None) -> str:
    """Apply ``name`` (or $TLGUI_THEME); returns the theme used. "system" leaves Qt's own."""
    name = (name or os.environ.get(THEME_ENV, "system")).strip().lower()
    if name == "dark":
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    elif name == "light":
        app.setStyle("Fusion")
        app.setPalette(app.style().standardPalette())
    else:
        name = "system"
    return name
