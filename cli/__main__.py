"""``python -m cli`` runs the ``kpigraph`` command."""

from cli import main

main()
