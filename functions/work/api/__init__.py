"""The ``api`` handler's work: the v1 API the Yarra clients speak, and our own extensions.

``routes`` declares the endpoints, ``body`` reads a request's JSON, ``caller`` finds the
signing user, ``service`` answers; ``openapi`` writes the document the routes describe.
"""
