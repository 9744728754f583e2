"""The four services of the suite; each runs as its own process (`python -m services.<name>`)."""
