"""Reliability runs against a served facegate: kill -9 under load, concurrency, and schema
fuzzing with each role. Their results are in BENCHMARKS.md, with the commands."""
