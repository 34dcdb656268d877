"""The product's durability claims, proven against real parts.

A real Temporal dev server, `worker.py` run as a subprocess (killed with SIGKILL where the claim
is about crashes), and the fake OpenAI-compatible server, which counts every request, holds one
in flight when a test needs a crash to land mid-call, and injects the faults real providers
produce. Nothing here is mocked inside the product.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from common.temporal_plugin import ResearchPlugin
from embedded.process import free_port, port_open
from embedded.temporal_server import TemporalDevServer
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest, error_body
from testing.processes import Hold, WorkerProcess, released, wait_for, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY, fake_llm_settings
from worker import build_worker
from workflows.config import NODE_NAMES, EvolutionConfig, NodeTimeouts, ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

QUESTION = "How does Python's with statement work, and what must a context manager implement?"
CHAT = "/chat/completions"
# The Script method that answers each schema name.
SCRIPTED = {
    "PlanAnswer": "plan",
    "DraftAnswer": "draft",
    "GapAnswer": "gaps",
    "RetrievalAnswer": "retrieval",
    "IntegratorAnswer": "integrate",
    "JudgeAnswer": "judge",
    "ReportAnswer": "report",
}


def research_config(**fields: Any) -> ResearchConfig:
    # One LLM call per node unless a test asks for self-evolution, so call counts are exact.
    return ResearchConfig.model_validate({"evolution": "off", **fields})


def fresh_script(fake: FakeLLMServer) -> Script:
    """A new scripted model: its call counters start at zero, as in the reference run."""
    fake.reset()
    script = Script()
    script.install(fake)
    return script


def timeouts(seconds: float, heartbeat: float, **per_node: float) -> dict[str, float]:
    return {**dict.fromkeys(NODE_NAMES, seconds), "heartbeat_seconds": heartbeat, **per_node}


# Crash runs: a dead worker's activity is noticed within 2 s (heartbeat) and retried at once.
# Two questions per iteration, answered in parallel: the report must still be reproducible to
# the letter (sources are numbered in question order, see the numbering test).
CRASH_CONFIG = research_config(
    max_iterations=3,
    questions_per_iteration=2,
    timeouts=timeouts(10, heartbeat=2),
    retry={"initial_interval_seconds": 0.2, "maximum_interval_seconds": 1},
)
# Fault runs: every node once (7 LLM calls); retries asked for 0.1 s apart (the dev server
# fires an activity retry about 1 s after the failure at the earliest).
FAST_RETRY = {"initial_interval_seconds": 0.1, "maximum_interval_seconds": 1}
BASELINE = Counter(dict.fromkeys(SCRIPTED, 1))
NODE_OF = {
    "PlanAnswer": "research_planner",
    "DraftAnswer": "draft_generator",
    "GapAnswer": "gap_analyzer",
    "RetrievalAnswer": "retrieval_engine",
    "IntegratorAnswer": "information_integrator",
    "JudgeAnswer": "quality_assessor",
    "ReportAnswer": "report_synthesizer",
}


def fault_config(**fields: Any) -> ResearchConfig:
    return research_config(
        max_iterations=1, questions_per_iteration=1, **{"retry": FAST_RETRY, **fields}
    )


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def start_research(
    client: Client, task_queue: str, config: ResearchConfig
) -> WorkflowHandle[Any, ResearchReport]:
    return await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=QUESTION, config=config),
        id=new_id("reliability"),
        task_queue=task_queue,
        result_type=ResearchReport,
    )


def chat_requests(server: FakeLLMServer) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path.endswith(CHAT)]


def per_schema(requests: list[RecordedRequest]) -> Counter[str]:
    return Counter(r.name or "?" for r in requests if r.path.endswith(CHAT))


def body_key(request: RecordedRequest) -> str:
    """Identical for two requests of the same LLM call (same prompt, same seed)."""
    return json.dumps(request.body, sort_keys=True)


def outcome(report: ResearchReport) -> dict[str, Any]:
    """What an interrupted run must reproduce exactly."""
    return {
        "markdown": report.markdown,
        "iterations": report.iterations,
        "quality_history": report.quality_history,
        "stop_reason": report.stop_reason,
        "cited_source_ids": [s.source.id for s in report.sources],
        "usage_total": report.usage_total,
    }


def activity_attempts(history: WorkflowHistory) -> list[tuple[str, int]]:
    """(activity type, attempt that completed it) for every activity of a run."""
    scheduled: dict[int, str] = {}
    attempts: list[tuple[str, int]] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = attrs.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            attempts.append((scheduled[attrs.scheduled_event_id], attrs.attempt))
    return attempts


def failure_chain(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None:
        chain.append(current)
        current = current.__cause__
    return chain


def application_error(err: BaseException) -> ApplicationError:
    found = [e for e in failure_chain(err) if isinstance(e, ApplicationError)]
    assert found, f"no ApplicationError in {failure_chain(err)!r}"
    return found[-1]


def assert_report(report: ResearchReport) -> None:
    assert report.markdown.startswith(f"# {report.question}\n")
    assert "## Sources" in report.markdown
    assert report.sources, "the report cites retrieved sources"


# --------------------------------------------------------------------------- worker processes


class Workers:
    """Starts `worker.py` subprocesses against the test's server and the fake LLM; kills the
    ones still running at the end of the test."""

    def __init__(self, address: str, fake: FakeLLMServer, cache_dir: Path, logs: Path) -> None:
        self.address, self.fake, self.cache_dir, self.logs = address, fake, cache_dir, logs
        self.started: list[WorkerProcess] = []

    async def start(
        self,
        task_queue: str,
        *,
        address: str | None = None,
        fake: FakeLLMServer | None = None,
        api_key: str = FAKE_KEY,
        extra: dict[str, str] | None = None,
    ) -> WorkerProcess:
        env = worker_env(
            temporal_address=address or self.address,
            task_queue=task_queue,
            llm_base_url=(fake or self.fake).base_url,
            api_key=api_key,
            cache_dir=self.cache_dir,
            extra=extra,
        )
        log = self.logs / f"worker-{len(self.started) + 1}.log"
        worker = WorkerProcess(env, log)
        self.started.append(worker)
        return await worker.start()

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest_asyncio.fixture
async def workers(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    cache_dir: Path,
    local_search: LocalSearch,  # the demo-corpus index is built once, before any worker starts
    tmp_path: Path,
) -> AsyncIterator[Workers]:
    address = temporal_env.client.service_client.config.target_host
    pool = Workers(address, fake_server, cache_dir, tmp_path / "logs")
    try:
        yield pool
    finally:
        pool.kill_all()


@dataclass
class Reference:
    report: ResearchReport
    counts: Counter[str]


References = Callable[[ResearchConfig], Awaitable[Reference]]


@pytest_asyncio.fixture(scope="module")
async def references(
    temporal_env: WorkflowEnvironment,
    fake_server: FakeLLMServer,
    cache_dir: Path,
    local_search: LocalSearch,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[References]:
    """Uninterrupted runs, one per config, on a worker subprocess like the crash runs."""
    client = temporal_env.client
    pool = Workers(
        client.service_client.config.target_host,
        fake_server,
        cache_dir,
        tmp_path_factory.mktemp("reference-logs"),
    )
    done: dict[str, Reference] = {}

    async def reference(config: ResearchConfig) -> Reference:
        key = config.model_dump_json()
        if key not in done:
            fake_server.reset()
            Script().install(fake_server)
            queue = new_id("reference")
            worker = await pool.start(queue)
            try:
                handle = await start_research(client, queue, config)
                report = await asyncio.wait_for(handle.result(), 60)
            finally:
                worker.stop()
            requests = chat_requests(fake_server)
            assert all(r.status == 200 for r in requests)
            assert report.iterations == config.max_iterations
            done[key] = Reference(report=report, counts=per_schema(requests))
            fake_server.reset()
        return done[key]

    try:
        yield reference
    finally:
        pool.kill_all()


@dataclass
class Crash:
    report: ResearchReport
    history: WorkflowHistory
    in_flight: RecordedRequest  # the call the kill interrupted
    completed_before: list[RecordedRequest]  # every call that had its answer before the kill
    after: list[RecordedRequest]  # every call made after the kill
    counts: Counter[str]  # calls of the whole run per schema name


async def crash_and_resume(
    client: Client,
    fake: FakeLLMServer,
    workers: Workers,
    hold: Hold,
    config: ResearchConfig,
) -> Crash:
    """Start a run on one worker, SIGKILL it while `hold`'s call is in flight, start another
    worker, and return what happened."""
    queue = new_id("crash")
    first = await workers.start(queue)
    handle = await start_research(client, queue, config)
    with released(hold):
        in_flight = await hold.wait_arrived()
        first.kill()
        killed_at = time.monotonic()
        at_kill = chat_requests(fake)
    assert not first.alive
    # Nothing but the held call was in flight: the kill landed where the test meant it to.
    assert [body_key(r) for r in at_kill if r.finished_at is None] == [body_key(in_flight)]

    await workers.start(queue)
    report = await asyncio.wait_for(handle.result(), 40)
    requests = chat_requests(fake)
    assert all(r.status == 200 for r in requests)
    return Crash(
        report=report,
        history=await handle.fetch_history(),
        in_flight=in_flight,
        completed_before=[r for r in at_kill if r.finished_at is not None],
        after=[r for r in requests if r.started_at > killed_at],
        counts=per_schema(requests),
    )


def assert_no_completed_call_repeated(crash: Crash, reference: Reference) -> None:
    """Every call answered before the crash was made once; only the one in flight is repeated,
    once: the run made exactly the calls of an uninterrupted run, plus that one."""
    held = crash.in_flight.name or "?"
    assert crash.counts - reference.counts == Counter({held: 1}), crash.counts
    assert not reference.counts - crash.counts, crash.counts
    done_before = {body_key(r) for r in crash.completed_before}
    repeated = [r.name for r in crash.after if body_key(r) in done_before]
    assert not repeated, f"calls completed before the crash were made again: {repeated}"
    assert [body_key(r) for r in crash.after].count(body_key(crash.in_flight)) == 1


# --------------------------------------------------------------------------- 1. worker crashes


@pytest.mark.slow  # kills processes
@pytest.mark.parametrize(
    ("held", "nth", "completed_judges"),
    [
        ("DraftAnswer", 1, 0),  # during the noisy draft
        ("GapAnswer", 3, 2),  # in the loop: 2nd judge done, 3rd gap analysis in flight
        ("ReportAnswer", 1, 3),  # during the final report
    ],
    ids=["during-draft", "mid-loop", "during-report"],
)
async def test_sigkilled_worker_resumes_without_repeating_completed_llm_calls(
    references: References,
    client: Client,
    fake_server: FakeLLMServer,
    workers: Workers,
    held: str,
    nth: int,
    completed_judges: int,
) -> None:
    reference = await references(CRASH_CONFIG)
    script = fresh_script(fake_server)
    hold = Hold(fake_server, held, getattr(script, SCRIPTED[held]), nth=nth)

    crash = await crash_and_resume(client, fake_server, workers, hold, CRASH_CONFIG)

    assert per_schema(crash.completed_before)["JudgeAnswer"] == completed_judges
    assert outcome(crash.report) == outcome(reference.report), "same report as without a crash"
    assert_no_completed_call_repeated(crash, reference)
    # Temporal retried exactly that one activity, on the new worker.
    attempts = activity_attempts(crash.history)
    assert [(node, n) for node, n in attempts if n > 1] == [(NODE_OF[held], 2)]


@pytest.mark.slow  # kills processes
async def test_sigkilled_worker_resumes_in_the_middle_of_self_evolution(
    references: References, client: Client, fake_server: FakeLLMServer, workers: Workers
) -> None:
    # The default config evolves every unit: parallel variants, judge and revise chains, merges.
    # The new worker replays all of that history, so any non-determinism in it would fail here.
    config = CRASH_CONFIG.model_copy(
        update={"evolution": EvolutionConfig(), "max_iterations": 2, "questions_per_iteration": 2}
    )
    reference = await references(config)
    script = fresh_script(fake_server)
    # Iteration 2's questions: 5 variants judged and revised, their merge in flight.
    hold = Hold(fake_server, "MergedQuestions", script.merge, nth=2)

    crash = await crash_and_resume(client, fake_server, workers, hold, config)

    evo = config.evolution
    judged = (  # the plan, iteration 1's questions and answers, iteration 2's questions
        evo.plan.variants * evo.plan.revision_steps
        + 2 * evo.questions.variants * evo.questions.revision_steps
        + config.questions_per_iteration * evo.answers.variants * evo.answers.revision_steps
    )
    assert per_schema(crash.completed_before)["VariantCritique"] == judged > 10
    assert_no_completed_call_repeated(crash, reference)
    # The scripted model numbers concurrent variants by arrival, so the text may differ from the
    # reference; the run's shape may not.
    report, expected = crash.report, reference.report
    assert (report.iterations, report.stop_reason) == (expected.iterations, expected.stop_reason)
    assert report.quality_history == expected.quality_history
    assert len(report.evolution) == len(expected.evolution)
    assert report.usage_total.calls == expected.usage_total.calls
    assert_report(report)
    attempts = activity_attempts(crash.history)
    assert [(node, n) for node, n in attempts if n > 1] == [
        ("self_evolution_enhancer.questions.merge", 2)
    ]


# --------------------------------------------------------------------------- 5. heartbeats


@pytest.mark.slow  # kills processes
async def test_dead_worker_is_noticed_within_the_heartbeat_timeout(
    client: Client, fake_server: FakeLLMServer, script: Script, workers: Workers
) -> None:
    # The draft call takes up to 30 s at the fake and its attempt may run 30 s; its worker
    # dies 5 s into it. Only the 2 s heartbeat timeout can make the retry come early.
    config = research_config(
        max_iterations=1,
        questions_per_iteration=1,
        timeouts=timeouts(10, heartbeat=2, draft_generator=30),
        retry={"initial_interval_seconds": 0.2, "maximum_interval_seconds": 1},
    )
    hold = Hold(fake_server, "DraftAnswer", script.draft, max_seconds=30)
    queue = new_id("heartbeat")
    first = await workers.start(queue)
    handle = await start_research(client, queue, config)
    with released(hold):
        await hold.wait_arrived()
        # While its worker lives, heartbeats keep the long call's attempt alive past 2 s.
        await asyncio.sleep(5)
        assert fake_server.count("DraftAnswer") == 1, "a live call was timed out"
        first.kill()
        killed_at = time.monotonic()
        await workers.start(queue)
        await wait_for(lambda: fake_server.count("DraftAnswer") >= 2, 20, "the draft's retry")
        original, retried = fake_server.calls("DraftAnswer")[:2]
        assert original.finished_at is None, "the first call is still in flight at the fake"
    assert retried.started_at - killed_at < 10, retried.started_at - killed_at
    assert body_key(retried) == body_key(original)
    assert_report(await asyncio.wait_for(handle.result(), 30))
    assert fake_server.count("DraftAnswer") == 2


# --------------------------------------------------------------------------- 2. server restart


@pytest.mark.slow  # kills processes
async def test_run_survives_a_temporal_server_restart(
    references: References, tmp_path: Path, fake_server: FakeLLMServer, workers: Workers
) -> None:
    reference = await references(CRASH_CONFIG)
    script = fresh_script(fake_server)
    ports = {"port": free_port(), "ui_port": free_port()}

    def dev_server() -> TemporalDevServer:
        return TemporalDevServer(
            tmp_path / "temporal.db", log_path=tmp_path / "temporal.log", **ports
        )

    # A heartbeat timeout longer than the outage: the activity in flight across it is not
    # timed out, so its result, obtained while the server is down, must be delivered after.
    config = CRASH_CONFIG.model_copy(update={"timeouts": NodeTimeouts(**timeouts(30, 20))})
    server = await asyncio.to_thread(dev_server().start)
    try:
        own = await Client.connect(server.address, plugins=[ResearchPlugin()])
        hold = Hold(fake_server, "GapAnswer", script.gaps, nth=2, abandon=False)
        queue = new_id("restart")
        worker = await workers.start(queue, address=server.address)
        handle = await start_research(own, queue, config)
        with released(hold):
            await hold.wait_arrived()
            assert fake_server.count("JudgeAnswer") == 1, "in the middle of the loop"
            await asyncio.to_thread(server.stop)  # SIGTERM
            assert not port_open("127.0.0.1", ports["port"])
            during_outage = len(chat_requests(fake_server))
            hold.release()  # the LLM answers while the server is down
            await wait_for(lambda: hold.request_finished, 5, "the held answer")
            await asyncio.sleep(1)  # the worker finds no server to report the answer to
            assert len(chat_requests(fake_server)) == during_outage, "nothing moved on"
            server = await asyncio.to_thread(dev_server().start)  # same db file, same ports
            report = await asyncio.wait_for(handle.result(), 60)

        # The same worker process carried on: it reconnected by itself, delivered the answer
        # it got during the outage, and the run ended as an uninterrupted one does.
        assert worker.alive
        assert len(workers.started) == 1
        assert outcome(report) == outcome(reference.report)
        assert per_schema(chat_requests(fake_server)) == reference.counts
    finally:
        await asyncio.to_thread(server.stop)


# --------------------------------------------------------------------------- 3. LLM faults


@asynccontextmanager
async def in_process_worker(
    client: Client, fake: FakeLLMServer, search: LocalSearch, request_timeout: float = 30
) -> AsyncIterator[str]:
    queue = new_id("faults")
    llm = LLMClient(fake_llm_settings(fake, request_timeout_seconds=request_timeout))
    try:
        async with build_worker(client, queue, llm, search):
            yield queue
    finally:
        await llm.aclose()


def broken_first(responder: Callable[[RecordedRequest], Any], first: str) -> Callable[..., Any]:
    """Answer `first` verbatim once, then what the script says."""
    answered: list[bool] = []

    def respond(request: RecordedRequest) -> Any:
        if not answered:
            answered.append(True)
            return first
        return responder(request)

    return respond


@dataclass
class RetryableFault:
    schema: str
    inject: Callable[[FakeLLMServer, Script], object]
    statuses: list[int | None]  # what the fake answered to that schema's requests, in order
    attempts: int  # of the node's activity: Temporal retries; 1 = re-asked inside the attempt
    config: dict[str, Any]
    request_timeout: float = 30


RETRYABLE = {
    "429-retry-after": RetryableFault(
        "GapAnswer",
        lambda f, s: f.inject_fault("GapAnswer", 429, headers={"Retry-After": "3"}),
        [429, 200],
        2,
        {},
    ),
    "500-then-503": RetryableFault(
        "IntegratorAnswer",
        lambda f, s: [f.inject_fault("IntegratorAnswer", code) for code in (500, 503)],
        [500, 503, 200],
        3,
        {},
    ),
    "connection-reset": RetryableFault(
        "RetrievalAnswer", lambda f, s: f.inject_disconnect("RetrievalAnswer"), [0, 200], 2, {}
    ),
    "hang-past-request-timeout": RetryableFault(
        "PlanAnswer",
        lambda f, s: f.inject_hang("PlanAnswer", 3),
        [None, 200],  # None: in flight until the hang ends, then answered to nobody
        2,
        {},
        request_timeout=1,
    ),
    "truncated-json-reasked": RetryableFault(
        "JudgeAnswer",
        lambda f, s: f.respond(
            "JudgeAnswer", broken_first(s.judge, '{"critique": "cut off", "score": 3, "do')
        ),
        [200, 200],
        1,
        {},
    ),
    "invalid-json-retried-by-temporal": RetryableFault(
        "DraftAnswer",
        lambda f, s: f.respond("DraftAnswer", broken_first(s.draft, "Sure! Here is the draft.")),
        [200, 200],
        2,
        {"json_repair_attempts": 0},
    ),
    "empty-completion": RetryableFault(
        "ReportAnswer",
        lambda f, s: f.respond("ReportAnswer", broken_first(s.report, "")),
        [200, 200],
        1,
        {},
    ),
}


@pytest.mark.parametrize("fault", RETRYABLE.values(), ids=RETRYABLE.keys())
async def test_transient_llm_fault_is_retried_and_the_run_completes(
    client: Client,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
    fault: RetryableFault,
) -> None:
    fault.inject(fake_server, script)
    async with in_process_worker(client, fake_server, local_search, fault.request_timeout) as q:
        handle = await start_research(client, q, fault_config(**fault.config))
        report = await asyncio.wait_for(handle.result(), 30)

    assert_report(report)
    assert per_schema(chat_requests(fake_server)) == BASELINE + Counter(
        {fault.schema: len(fault.statuses) - 1}
    )
    calls = fake_server.calls(fault.schema)
    assert [
        r.status if want is not None else None
        for r, want in zip(calls, fault.statuses, strict=True)
    ] == fault.statuses
    first, retry = calls[0], calls[1]
    waited = retry.started_at - first.started_at
    if fault.schema == "GapAnswer":  # Retry-After: 3 is honoured (the backoff alone: ~1 s)
        assert 2.9 <= waited < 6
    if fault.request_timeout == 1:  # the client gave up at 1 s, not when the hang ended at 3 s
        assert 0.9 <= waited < 3
    if fault.request_timeout == 1:
        assert first.fault == "hang"
    # Transport faults are Temporal's retries; a malformed answer is re-asked within the attempt
    # (saying what was wrong) while json_repair_attempts allows.
    attempts = dict(activity_attempts(await handle.fetch_history()))
    assert attempts[NODE_OF[fault.schema]] == fault.attempts
    assert {n for node, n in attempts.items() if node != NODE_OF[fault.schema]} == {1}
    assert ("That answer is not valid" in retry.prompt) == (fault.attempts == 1)


NON_RETRYABLE = {
    "401-bad-key": (401, error_body(401), "LLMAuthError", "TTDR_LLM_API_KEY"),
    "403-no-access": (403, error_body(403), "LLMAuthError", "TTDR_LLM_API_KEY"),
    "400-model-not-found": (
        400,
        error_body(400, "The model 'fake-model' does not exist", code="model_not_found"),
        "LLMNotFound",
        "TTDR_LLM_MODEL",
    ),
    "400-context-length": (
        400,
        error_body(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9120 tokens.",
            code="context_length_exceeded",
        ),
        "LLMContextTooLong",
        "longer-context model",
    ),
}


@pytest.mark.parametrize(
    ("status", "body", "error_type", "fix"), NON_RETRYABLE.values(), ids=NON_RETRYABLE.keys()
)
async def test_permanent_llm_fault_fails_the_run_at_once_naming_the_fix(
    client: Client,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
    status: int,
    body: dict[str, Any],
    error_type: str,
    fix: str,
) -> None:
    fake_server.inject_fault("GapAnswer", status, body=body, times=10)
    async with in_process_worker(client, fake_server, local_search) as queue:
        handle = await start_research(client, queue, fault_config())
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 30)

    cause = application_error(failure.value)
    assert cause.type == error_type
    assert cause.non_retryable
    assert fix in str(cause)
    assert fake_server.count("GapAnswer") == 1, "no retry loop"
    assert fake_server.count("RetrievalAnswer") == fake_server.count("ReportAnswer") == 0


async def test_endless_retryable_fault_ends_after_maximum_attempts(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    fake_server.inject_fault("JudgeAnswer", 500, times=100)
    async with in_process_worker(client, fake_server, local_search) as queue:
        handle = await start_research(
            client, queue, fault_config(retry={**FAST_RETRY, "maximum_attempts": 3})
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 30)

    cause = application_error(failure.value)
    assert cause.type == "LLMServerError" and not cause.non_retryable
    assert [r.status for r in fake_server.calls("JudgeAnswer")] == [500, 500, 500]
    assert fake_server.count("ReportAnswer") == 0


# --------------------------------------------------------------------------- determinism


def slow_part(responder: Callable[[RecordedRequest], Any], part: int) -> Callable[..., Any]:
    """Answer the retrieval of the iteration's `part`-th question 0.5 s late."""

    def respond(request: RecordedRequest) -> Any:
        if f"part {part}," in request.prompt:
            time.sleep(0.5)
        return responder(request)

    return respond


async def test_same_answers_give_the_same_report_whatever_finishes_first(
    client: Client, fake_server: FakeLLMServer, local_search: LocalSearch
) -> None:
    # What a crashed run is compared with must not depend on timing: the questions of one
    # iteration are answered in parallel, and the report must not depend on which is first.
    reports = []
    for slow in (1, 2):
        script = fresh_script(fake_server)
        fake_server.respond("RetrievalAnswer", slow_part(script.retrieval, slow))
        async with in_process_worker(client, fake_server, local_search) as queue:
            handle = await start_research(
                client, queue, research_config(max_iterations=2, questions_per_iteration=2)
            )
            reports.append(await asyncio.wait_for(handle.result(), 30))
    assert outcome(reports[0]) == outcome(reports[1])


# --------------------------------------------------------------------------- 4. secrets


def history_text(history: WorkflowHistory) -> str:
    """The exported history with every base64 payload decoded next to it."""
    exported = history.to_json()
    parts = [exported]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            with suppress(binascii.Error, ValueError):
                parts.append(base64.b64decode(node, validate=True).decode("utf-8", "replace"))

    walk(json.loads(exported))
    return "\n".join(parts)


async def test_api_key_never_reaches_history_or_logs(
    client: Client, workers: Workers, cache_dir: Path
) -> None:
    canary = f"sk-canary-{uuid.uuid4().hex}"
    with FakeLLMServer(api_key=canary) as fake:
        script = Script()
        script.install(fake)
        # Failures and malformed answers put error messages into the logs and the history.
        fake.inject_fault("GapAnswer", 500)
        fake.inject_disconnect("RetrievalAnswer")
        fake.respond("JudgeAnswer", broken_first(script.judge, "not json"))
        queue = new_id("secrets")
        worker = await workers.start(
            queue, fake=fake, api_key=canary, extra={"TTDR_LOG_LEVEL": "DEBUG"}
        )
        handle = await start_research(client, queue, fault_config())
        report = await asyncio.wait_for(handle.result(), 30)
        worker.stop()
        requests = chat_requests(fake)

    assert_report(report)
    # The key was in use: every request carried it, so a leak would have had the chance.
    assert len(requests) == 10
    assert {r.headers.get("authorization") for r in requests} == {f"Bearer {canary}"}
    history = history_text(await handle.fetch_history())
    assert QUESTION in history, "payloads are decoded, so a key inside one would be seen"
    assert canary not in history
    assert canary.removeprefix("sk-") not in history
    log = worker.output()
    assert "worker ready" in log and "malformed JudgeAnswer" in log, "the log was captured"
    assert canary not in log
    assert canary.removeprefix("sk-") not in log
