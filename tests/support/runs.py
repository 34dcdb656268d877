"""Start one research run on a test worker and wait for its report."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

QUESTION = "How does Python's with statement work, and what must a context manager implement?"


async def run_research(client: Client, task_queue: str, **config: object) -> ResearchReport:
    """One run; self-evolution is off unless the test asks for it (its own tests cover it)."""
    config.setdefault("evolution", "off")
    request = ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(config))
    return await client.execute_workflow(
        WORKFLOW_NAME,
        request,
        id=f"test-{uuid.uuid4().hex[:10]}",
        task_queue=task_queue,
        result_type=ResearchReport,
    )
