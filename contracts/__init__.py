"""Contracts two units share, one module each, importing nothing of ours.

The backend, the worker, the portal and the site agent are installed and deployed
apart, yet some rules must read the same in all of them: how a Yarra INI file is
read, what a task file says, the names of a task's states, what a destination is,
how a file is written so a crash never leaves half of it, and which values in a
text identify a patient. Each lives here once; every unit that needs it imports it
from here, and this package imports only the standard library, so it is added to
every unit's package as it is.
"""
