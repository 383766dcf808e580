"""``python -m galssl.cli``: the same as the ``galssl`` command."""

from galssl.cli import main

main()
