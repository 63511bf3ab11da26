"""Benchmarks for the portal: run ``.venv/bin/python -m bench.run`` from the project root."""
