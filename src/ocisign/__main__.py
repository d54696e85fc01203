"""Allow ``python -m ocisign``."""

from ocisign.cli import main

main()
