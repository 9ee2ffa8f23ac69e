"""Benchmarks: each measures against a baseline in the same run (ratios count, not seconds)."""
