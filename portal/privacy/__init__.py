"""Privacy (AVG): the right of access (art. 15), retention after closing, and the pseudonym keys."""
