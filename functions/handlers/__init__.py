"""The Lambda handlers: thin adapters from events to the domain."""
