"""The work each Lambda handler does, named after its handler in ``functions.handlers``.

``work/<name>.py`` (or the package ``work/<name>/``) holds what ``handlers/<name>.py``
adapts to its event: ``submit``, ``job_state``, ``sweeper``, ``api``,
``billing_outbox``, ``billing_reconcile``.
"""
