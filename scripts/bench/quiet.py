"""A bench prints its progress and its table: the handlers' INFO lines and warnings stay out.

Call :func:`quiet_handlers` before the local cloud builds its handlers:
Powertools reads its log level from the environment when a handler's logger
is made, and copies it to the ``functions`` loggers.
"""

from __future__ import annotations

import logging
import os
import warnings


def quiet_handlers() -> None:
    """Warnings and errors only, from the handlers and from the libraries under them."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    # The metrics' JSON lines (CloudWatch's embedded format) too: on AWS they go to the
    # logs. Their serialising and printing is then left out of the handlers' time.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    # Powertools warns at every flush of a handler that published no metric of its own.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
