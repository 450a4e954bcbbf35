"""Benchmarks that print figures to compare run to run (`make bench`)."""
