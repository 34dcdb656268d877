"""Why a followed run does not move: said once, in one line, instead of waiting in silence.

Two causes a user (or a test) can act on: no worker polls the run's task queue (none started,
or one on another queue), or the worker keeps failing the run's workflow task (a bug or a
non-determinism: the run waits for fixed code). The client keeps waiting either way: Temporal
will run the workflow once a worker can.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

NO_WORKER = "no worker polls task queue"
TASK_FAILING = "the worker fails this run's workflow task"
FAILING_ATTEMPTS = 3  # a workflow task that failed this often is not a blip


async def _last_task_failure(handle: WorkflowHandle) -> str:
    message = ""
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = event.workflow_task_failed_event_attributes.failure
            message = failure.message.splitlines()[0][:200] if failure.message else ""
    return message


async def stall_reason(client: Client, handle: WorkflowHandle) -> str | None:
    """One line saying why the run is not progressing, or None when nothing looks wrong."""
    try:
        description = await handle.describe()
        attempt = description.raw_description.pending_workflow_task.attempt
        if attempt >= FAILING_ATTEMPTS:
            cause = await _last_task_failure(handle)
            return (
                f"{TASK_FAILING} (attempt {attempt}): {cause or 'see the worker log'}; "
                "the run resumes once a worker with fixed code runs it"
            )
        queue = description.task_queue
        pollers = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except RPCError:
        return None  # the server is busy or the run just ended: nothing to say
    if not pollers.pollers:
        return (
            f"{NO_WORKER} {queue!r}: start one (python worker.py with TTDR_TASK_QUEUE={queue}); "
            "the run starts when it does"
        )
    return None
