"""``python -m services`` is the ``pmo`` command."""

from services.cli import main

main()
