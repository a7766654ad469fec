"""The YarraCloud backend: the domain model in ``functions.core`` and the Lambda handlers."""
