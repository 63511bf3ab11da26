"""Routes arrive with the password-reset issue."""
