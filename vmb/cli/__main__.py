"""``python -m vmb.cli``: the ``vmb`` command."""

from vmb.cli import main

main()
