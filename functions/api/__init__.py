"""The v1 API the Yarra clients speak, and our own extensions to it."""
