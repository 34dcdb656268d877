"""What the worker, the command line, the desk, the bench and the eval share, below all of them:
the errors a user's input gets (errors.py) and the one Temporal connection helper
(temporal_connection.py). Nothing here imports a layer above it."""
