"""Client-side inspection of research runs, read from Temporal alone: history files and their
replay (history.py), where a run spent its time and tokens (profile.py), the snapshot `client.py
top` shows (runs.py) and why a run waits (waits.py). The worker's own telemetry (traces,
metrics) is in observability/."""
