"""Benchmarks at scale (issue 6): ``python bench/run.py --help``. Not part of the test suite."""
