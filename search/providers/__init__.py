"""Web search providers, one module each: how to ask, and how to read the answer."""
