"""Reusable parts several pages (or dialogs) use: gallery, plots, confusion matrix, layer tree.

A widget imports no page, dialog or shell module; it is wired by whoever shows it.
"""
