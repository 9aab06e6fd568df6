"""Reliability runs against a served facegate: kill -9 under load, concurrency, schema fuzzing per role (results in BENCHMARKS.md)."""
