"""The worker's telemetry: OpenTelemetry traces of research runs, the worker's and the
product's metrics, and the search attributes runs are listed by. Client-side inspection
(history, profile, top) is in inspection/."""
