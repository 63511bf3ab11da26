"""What the tests and the benchmarks both run: the app's processes (gunicorn, nginx, workers, a
migrated database), a raw HTTP client, a real SMTP server that keeps what it receives, and what is
built on them: the 200-browser load, the scale-out cluster and its proofs, a large download, and
the machine's CPU use."""
