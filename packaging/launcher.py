"""The frozen app's entry script (PyInstaller runs it as ``__main__``).

``tlgui.__main__.main`` calls ``multiprocessing.freeze_support()`` first, so DataLoader
worker processes, which start this executable again, run their task instead of the app.
"""

import sys

from tlgui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
