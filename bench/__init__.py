"""Benchmarks for the account dialog: run ``.venv/bin/python -m bench.run`` from the project root."""
