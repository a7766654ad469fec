"""Developer and operator scripts: the local cloud, the demo, benchmarks."""
