"""Render resources/tlgui.svg to resources/tlgui.png (256 px) with Qt's SVG renderer.

Run after editing the SVG: python packaging/make_icon.py (needs PySide6, as tlgui does).
The PNG is committed; PyInstaller turns it into .ico / .icns for Windows and macOS.
"""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def render(svg: Path, png: Path, size: int = 256) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt needs one
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icon: error: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png)):
        raise SystemExit(f"make_icon: error: cannot write {png}")


if __name__ == "__main__":
    render(RESOURCES / "tlgui.svg", RESOURCES / "tlgui.png")
    print(f"wrote {RESOURCES / 'tlgui.png'}")
