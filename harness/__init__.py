"""What the tests and the benchmarks both run: the app's processes (gunicorn, nginx, workers, a
migrated database), a raw HTTP client, and a real SMTP server that keeps what it receives."""
