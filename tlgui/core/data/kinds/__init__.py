"""Kinds of data source, one module each: what a data spec can name.

Every kind is a module (or any object) with three things:

* ``DESCRIPTION``: one line the scan and the data panel show, e.g. "CSV list (one image file
  and its label per row)";
* ``matches(spec) -> bool``: whether the (stripped) spec is this kind;
* ``open(spec, split) -> ImageSet``: the data, ``split`` being "train" or "test"; DataError
  with one sentence naming what is wrong.

Kinds import the shared helpers (:mod:`tlgui.core.data.sources`: the ImageSet, reading an image file;
:mod:`tlgui.core.data.folder_listing`: listing a class-per-folder tree) and format readers, never each
other (an import-linter contract says so). The catalog (:mod:`tlgui.core.data.catalog`) lists them
in the order it asks them; a new kind is one module here plus one line there, and a kind that
lives in a higher layer registers itself with ``catalog.register_kind(module)``.
"""

from __future__ import annotations

from typing import Protocol

from tlgui.core.data.sources import ImageSet


class Kind(Protocol):
    DESCRIPTION: str

    def matches(self, spec: str) -> bool: ...

    def open(self, spec: str, split: str = "train") -> ImageSet: ...
