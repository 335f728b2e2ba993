"""``python -m services`` is the ``pmo`` command."""

from services.entry import main

main()
