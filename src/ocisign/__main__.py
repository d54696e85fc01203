"""``python -m ocisign`` and the ``ocisign`` console script.

``ocisign --version`` is answered here, as click's version option words it, without
importing click; everything else goes to the click group (``ocisign.cli``).
"""

import sys

from ocisign import __version__


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:
        print(f"ocisign, version {__version__}")
        return
    from ocisign.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
