"""Entry point for ``tlgui`` and ``python -m tlgui``."""

import multiprocessing
import sys


def main() -> int:
    # first: frozen (PyInstaller) builds re-enter here in DataLoader worker processes
    multiprocessing.freeze_support()
    from .cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
