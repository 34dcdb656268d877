"""What a run that continues another one carries: a follow-up question on a finished run, or
the next run of a watched topic (a Temporal Schedule). Small models only: the parent's report
and evidence reach the run by reference (its workflow id), read by an activity
(activities/continuation.py), never copied into the workflow input.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workflows.models import NumberedSource, ResearchPlan

ContinuationKind = Literal["follow_up", "watch"]
LOAD_PARENT_ACTIVITY = "continuation_load_parent"
NOTIFY_ACTIVITY = "continuation_notify"
# Bounds of what a run carries over from its parent (history and prompt sizes stay bounded).
MAX_PARENT_QUESTIONS = 200
MAX_CHANGES_LISTED = 50
# The previous run's passages a watched topic re-reads (one search each, no LLM call).
MAX_RECHECKED_SOURCES = 40


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContinuationRequest(_Model):
    """Part of the workflow input: which run this one continues, by id only."""

    kind: ContinuationKind
    parent_id: str = Field("", description="follow_up: the finished run to build on")
    schedule_id: str = Field("", description="watch: the schedule whose previous run is read")
    notify_url: str = Field("", description="watch: POST the changes here (optional)")


class ParentRef(_Model):
    """The load activity's input: the continuation and the id of the run asking."""

    request: ContinuationRequest
    workflow_id: str


class ParentRun(_Model):
    """The parent's report as the new run's draft, and its evidence as already retrieved.

    `sources` are the parent's cited passages under the parent report's numbers (one number per
    document, several passages may share it); `body` cites those numbers. For a watched topic,
    every passage whose document could be read again carries its current text
    (`stale_documents` lists the ones that could not)."""

    found: bool = Field(True, description="watch: False for a schedule's first run")
    workflow_id: str = ""
    question: str = ""
    finished_at: str = Field("", description="ISO-8601 UTC close time of the parent")
    plan: ResearchPlan = ResearchPlan(sections=[])
    body: str = ""
    sources: list[NumberedSource] = []
    questions: list[str] = Field([], description="the parent's search questions")
    stale_documents: list[str] = []
    searches: int = Field(0, description="searches made to re-read the parent's documents")


class PreviousClaim(_Model):
    """One cited claim of the previous report, re-checked against its documents' current text."""

    text: str
    numbers: list[int] = Field(description="registry numbers of its documents' passages")
    documents: list[str]
    supported_now: bool
    rechecked: bool = Field(description="its documents were read again in this run")


class ContinuationState(_Model):
    """Kept in RunState (so it survives continue-as-new); small by its bounds."""

    kind: ContinuationKind
    parent_id: str = ""
    parent_question: str = ""
    since: str = ""
    schedule_id: str = ""
    notify_url: str = ""
    # document key -> the parent report's number for it: old citations keep their numbers.
    numbers: dict[str, int] = {}
    parent_questions: list[str] = []
    previous_claims: list[PreviousClaim] = []
    # Registry numbers at or below this came from the parent (its evidence, or re-read text).
    inherited_sources: int = 0
    searches: int = 0


class ChangeItem(_Model):
    text: str
    previous: str = Field("", description="changed: what the previous report said")
    numbers: list[int] = Field([], description="registry numbers of the sources that show it")
    sources: list[str] = Field([], description="documents that show it (title — location)")


class Changes(_Model):
    """What a watched topic's run found, compared with the previous run's report."""

    since: str
    previous_run: str
    added: list[ChangeItem] = []
    changed: list[ChangeItem] = []
    removed: list[ChangeItem] = Field([], description="claims no longer supported")

    @property
    def nothing_new(self) -> bool:
        return not (self.added or self.changed or self.removed)


class NotifyInput(_Model):
    url: str
    schedule_id: str
    workflow_id: str
    question: str
    changes: Changes
