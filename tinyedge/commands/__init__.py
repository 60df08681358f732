"""One module per CLI verb, each with a run(**options) function."""
