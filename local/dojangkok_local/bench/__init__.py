"""Benchmarks: scripts that print numbers (build cold/warm and sizes, API calls and overhead per deploy); no test
asserts a time."""
