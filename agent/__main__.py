"""``python -m agent``: the ``yarracloud-agent`` command."""

from agent.cli import main

raise SystemExit(main())
