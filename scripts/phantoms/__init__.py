"""Synthetic MRI data for tests, benchmarks and the demo: phantoms, simulated scans, raw files."""
