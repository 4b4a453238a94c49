"""Benchmark knowledge (NAS-Bench-201) and the ``nago bench ...`` commands."""
