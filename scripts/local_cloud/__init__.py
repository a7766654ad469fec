"""The embedded default: the whole cloud on one machine, with no AWS account."""
