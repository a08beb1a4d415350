#!/usr/bin/env python
"""The server's commands; `.venv/bin/studio` is the same, from any folder (studio/cli.py)."""

from studio.cli import main

if __name__ == "__main__":
    main()
