"""The window itself: the main window, menus, the other pages' wiring, startup, theme, window state.

The top room: it may import every other room; nothing in tlgui.ui imports it.
"""
