"""Administering a deployment: sites, site users and their keys, mode settings, destinations.

The portal and the operator's command share these operations; each takes the
clients it needs as arguments, so either front end decides where they point.
"""
