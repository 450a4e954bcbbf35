"""`python -m devhost.ops <command>`: see devhost/ops/cli.py."""

from __future__ import annotations

import sys

from devhost.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
