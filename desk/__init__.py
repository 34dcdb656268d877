"""The research desk: a small web app over the same Temporal client the CLI uses.

`client.py serve` starts it (desk/command.py). Pages are rendered on the server with Jinja2
(autoescaped) from the same data the CLI reads — the `progress` and `state` queries, the run's
ResearchReport, the export document tree — and a little plain JavaScript (static/desk.js)
polls the progress. Nothing is built with Node and nothing is loaded from another origin.
"""
