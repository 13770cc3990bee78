"""Files of a catalog directory stay in it: a symbolic link (committed to the catalog's git
repository, say) that leads out of the directory is not a catalog file.

A catalog is written by people who may be hostile; ``data/dms_stores.csv → /srv/hr/salary.csv``
would otherwise let a metric's SQL read that file as a table, and
``metrics/x.yaml → /etc/app/secrets.yaml`` would show its keys in the load's errors.

The one copy of the check: :mod:`graph_schema` reads catalog files too (the calendar of
``kpigraph.yaml``, hierarchy mappings) and imports nothing above it; :mod:`core.confined` is
this module for the packages that share ``core``.

>>> import tempfile, os
>>> root = Path(tempfile.mkdtemp())
>>> (root / "a.yaml").write_text("id: a")
5
>>> os.symlink("/etc/hostname", root / "b.yaml")
>>> escapes(root, root / "a.yaml"), escapes(root, root / "b.yaml")
(False, True)
"""

from __future__ import annotations

from pathlib import Path

from core.i18n import N_

#: what a refusal says
LINKED_OUT = N_("is a link to a file outside the catalog")
#: what a refusal says to do
ADVICE = N_("copy the file into the catalog directory instead of linking to it")


def escapes(root: Path, path: Path) -> bool:
    """Whether ``path``, its symbolic links followed, lies outside ``root`` (a link loop
    counts as outside)."""
    try:
        return not path.resolve(strict=False).is_relative_to(root.resolve(strict=False))
    except (OSError, RuntimeError):
        return True
