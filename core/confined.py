"""Files of a catalog directory stay in it: a symbolic link out of the directory is not a
catalog file. The check lives in :mod:`graph_schema.confined` (one copy, which
``graph_schema``'s own readers use too); this is its name for the packages above it."""

from __future__ import annotations

from graph_schema.confined import ADVICE, LINKED_OUT, escapes

__all__ = ["ADVICE", "LINKED_OUT", "escapes"]
