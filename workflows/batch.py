"""BatchResearchWorkflow: many questions as one durable job, a DeepResearchWorkflow child each.

- At most `concurrency` children run at once; a child that fails is recorded, not fatal.
- Children have deterministic ids (`<batch id>.<question id>`) and the reuse policy
  ALLOW_DUPLICATE_FAILED_ONLY: a batch started again for the same questions (the client's
  resume) skips a question whose child already completed — the server refuses to start it
  twice — and retries one whose child failed.
- The batch keeps one small record per question (status, child id, iterations, LLM calls,
  tokens, seconds; an error line of at most 300 characters), never a report: the client
  fetches each report from its child workflow.
- Bounded history: a completed child's report lands in this history as its result event, so
  after `children_per_run` children (or when the server suggests it) the batch stops starting
  new children, lets the running ones finish — continue-as-new would terminate them — and
  continues as new carrying only the questions not yet started and the small records.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict, Field

    from workflows.config import ResearchConfig
    from workflows.failures import root_message
    from workflows.models import ResearchRequest
    from workflows.research import WORKFLOW_NAME as CHILD_WORKFLOW

WORKFLOW_NAME = "BatchResearchWorkflow"
ERROR_MAX_CHARS = 300
MAX_CONCURRENCY = 200
QuestionStatus = Literal["completed", "failed"]


class BatchQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1)


class QuestionRecord(BaseModel):
    """What the batch keeps of a finished question: small, never the report."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: QuestionStatus
    workflow_id: str
    reused: bool = Field(False, description="completed by an earlier batch run: not run again")
    iterations: int = 0
    llm_calls: int = 0
    tokens: int = 0
    seconds: float | None = None
    error: str = ""


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[BatchQuestion] = Field(description="questions not yet started")
    config: ResearchConfig = ResearchConfig()
    concurrency: int = Field(4, ge=1, le=MAX_CONCURRENCY)
    children_per_run: int = Field(200, ge=1, description="children per run before continue-as-new")
    total: int | None = Field(None, description="questions in the whole batch (set by the batch)")
    finished: list[QuestionRecord] = []
    continued: int = 0


class BatchProgress(BaseModel):
    total: int
    completed: int
    failed: int
    running: int
    pending: int
    llm_calls: int
    tokens: int
    running_ids: list[str]
    finished: list[QuestionRecord] = Field(description="records from index `since` on")


class BatchResult(BaseModel):
    total: int
    completed: int
    failed: int
    records: list[QuestionRecord]


class _ChildSummary(BaseModel):
    """The few fields of a child's ResearchReport the batch keeps (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore")

    class _Usage(BaseModel):
        model_config = ConfigDict(extra="ignore")
        calls: int = 0
        input_tokens: int = 0
        output_tokens: int = 0

    iterations: int = 0
    usage_total: _Usage = _Usage()


def child_id(batch_id: str, question_id: str) -> str:
    return f"{batch_id}.{question_id}"


@workflow.defn(name=WORKFLOW_NAME)
class BatchResearchWorkflow:
    def __init__(self) -> None:
        self._finished: list[QuestionRecord] = []
        self._running: dict[str, datetime] = {}
        self._pending: list[BatchQuestion] = []
        self._total = 0

    @workflow.run
    async def run(self, request: BatchRequest) -> BatchResult:
        self._finished = list(request.finished)
        self._pending = list(request.questions)
        self._total = request.total or len(request.finished) + len(request.questions)
        started = 0
        tasks: set[asyncio.Task[None]] = set()
        while self._pending:
            await workflow.wait_condition(lambda: len(self._running) < request.concurrency)
            if (
                started >= request.children_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await self._continue_as_new(request)
            question = self._pending.pop(0)
            self._running[question.id] = workflow.now()
            task = asyncio.create_task(self._research(question, request.config))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            started += 1
            self._show()
        await workflow.wait_condition(lambda: not self._running)
        self._show()
        return BatchResult(
            total=self._total,
            completed=sum(r.status == "completed" for r in self._finished),
            failed=sum(r.status == "failed" for r in self._finished),
            records=self._finished,
        )

    async def _continue_as_new(self, request: BatchRequest) -> None:
        """Let the running children finish (continue-as-new would terminate them), then hand
        the questions left and the records to a fresh history."""
        await workflow.wait_condition(lambda: not self._running)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            request.model_copy(
                update={
                    "questions": self._pending,
                    "finished": self._finished,
                    "total": self._total,
                    "continued": request.continued + 1,
                }
            )
        )

    async def _research(self, question: BatchQuestion, config: ResearchConfig) -> None:
        """One question's child, recorded when it ends; a failure is a record, not an error."""
        child = child_id(workflow.info().workflow_id, question.id)
        began = self._running[question.id]
        record = QuestionRecord(id=question.id, status="failed", workflow_id=child)
        try:
            handle = await workflow.start_child_workflow(
                CHILD_WORKFLOW,
                ResearchRequest(question=question.prompt, config=config),
                id=child,
                result_type=_ChildSummary,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=f"{question.id}: {question.prompt[:180]}",
            )
            summary: _ChildSummary = await handle
            record = record.model_copy(
                update={
                    "status": "completed",
                    "iterations": summary.iterations,
                    "llm_calls": summary.usage_total.calls,
                    "tokens": summary.usage_total.input_tokens + summary.usage_total.output_tokens,
                    "seconds": (workflow.now() - began).total_seconds(),
                }
            )
        except WorkflowAlreadyStartedError:
            # Completed by an earlier run of this batch: its report is there, not run again.
            record = record.model_copy(update={"status": "completed", "reused": True})
        except ChildWorkflowError as err:
            record = record.model_copy(
                update={
                    "error": root_message(err)[:ERROR_MAX_CHARS],
                    "seconds": (workflow.now() - began).total_seconds(),
                }
            )
        except ValueError as err:  # the question failed ResearchRequest's validation
            record = record.model_copy(update={"error": str(err)[:ERROR_MAX_CHARS]})
        self._finished.append(record)
        del self._running[question.id]
        self._show()

    def _show(self) -> None:
        """The batch's current details in the Web UI (its children are listed there too)."""
        done = sum(r.status == "completed" for r in self._finished)
        failed = len(self._finished) - done
        workflow.set_current_details(
            f"**done** {done} · **failed** {failed} · **running** {len(self._running)} · "
            f"**pending** {len(self._pending)} · of {self._total}"
        )

    @workflow.query(name="progress")
    def progress(self, since: int = 0) -> BatchProgress:
        done = [r for r in self._finished if r.status == "completed"]
        return BatchProgress(
            total=self._total,
            completed=len(done),
            failed=len(self._finished) - len(done),
            running=len(self._running),
            pending=len(self._pending),
            llm_calls=sum(r.llm_calls for r in self._finished),
            tokens=sum(r.tokens for r in self._finished),
            running_ids=list(self._running),
            finished=self._finished[since:],
        )
