"""The desk's addresses, built in one place (ids are URL-quoted: any id makes one path part)."""

from __future__ import annotations

from urllib.parse import quote


def run_path(workflow_id: str) -> str:
    return f"/runs/{quote(workflow_id, safe='')}"


def schedule_path(schedule_id: str) -> str:
    return f"/schedules/{quote(schedule_id, safe='')}"
