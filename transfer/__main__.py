"""``python -m transfer``: the helper-compatible command."""

import sys

from transfer.cli import main

sys.exit(main())
