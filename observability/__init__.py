"""Tracing, live inspection, history replay and profiling of research runs."""
