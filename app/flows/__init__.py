"""Flow rules of the account dialog, kept free of requests so they can be unit-tested."""
