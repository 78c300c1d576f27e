"""Benchmarks of the pipeline against the usual designs (`make bench`); not part of the tests."""
