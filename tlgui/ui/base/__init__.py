"""Plumbing every room uses: background jobs, error dialogs, the choice dataclasses, text formatting.

Imports no other room of tlgui.ui (see the contracts in pyproject.toml).
"""
