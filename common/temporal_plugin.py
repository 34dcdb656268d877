"""One Temporal plugin that configures the client, the workers and the Replayer alike.

Why one plugin: the data converter, the tracing interceptors and the workflow classes used to be
wired separately in the connection helper, the worker, the replay command and the tests. A
Replayer built with a different converter or a different workflow list than the worker that
wrote a history would report a nondeterminism that is not there (or miss one that is). With the
plugin on the client, every `Worker(client, ...)` gets the same configuration (the SDK applies a
client's worker-capable plugins to its workers), and `Replayer(plugins=[ResearchPlugin()])` gets
it too.

- Converter: pydantic (the workflow's inputs, state and results are pydantic models).
- Interceptors: `RunTracingInterceptor` (client and worker: the run's root span and one span per
  node; a no-op when no tracer provider is set) and `NodeSpanInterceptor` (worker: the node's
  attributes on that span; it must come after the tracing one, and the SDK puts a client's
  interceptors first).
- Workflows: the research and batch workflows, on every worker except the LLM task queue's,
  which carries node activities only (`workflows/calls.py`). Activities are not here: they need
  the worker's LLM and search clients (`worker.build_worker`).
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.plugin import SimplePlugin
from temporalio.worker import WorkerConfig, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from observability.tracing import NodeSpanInterceptor, RunTracingInterceptor
from workflows.batch import BatchResearchWorkflow
from workflows.calls import LLM_QUEUE_SUFFIX
from workflows.research import DeepResearchWorkflow

PLUGIN_NAME = "ttdr.research"
RESEARCH_WORKFLOWS: tuple[type, ...] = (DeepResearchWorkflow, BatchResearchWorkflow)


def _workflow_name(cls: type) -> str:
    return workflow._Definition.must_from_class(cls).name  # the SDK's own reading of @defn


def _with_research_workflows(given: Sequence[type] | None) -> list[type]:
    """The given workflows plus the product's, except where a given class already takes a
    product workflow's name (a test's planted bug, a bench's variant): one class per name."""
    workflows = list(given or [])
    taken = {_workflow_name(cls) for cls in workflows}
    return workflows + [w for w in RESEARCH_WORKFLOWS if _workflow_name(w) not in taken]


# What the workflow code imports and only reads: the product's pure workflow modules (models,
# text checks, decisions; no I/O, no module state) and the libraries they use. Passed through,
# they are imported once per worker process instead of once per run inside each run's sandbox.
PASSED_THROUGH_MODULES = ("workflows", "pydantic", "pydantic_core", "annotated_types")


def research_workflow_runner(given: WorkflowRunner | None) -> WorkflowRunner:
    """The SDK's sandbox with the product's pure modules passed through, in one place.

    Why: the sandbox re-imports, for every run, each module it does not pass through. The
    workflow modules' own `imports_passed_through` blocks covered what they import, but not the
    workflow modules themselves (the research workflow's module re-ran its top level per run).
    What keeps them free of I/O, clock and randomness once passed through is the import scan of
    tests/product/test_imports.py (no I/O module under workflows/), not the sandbox. A runner
    that is not the sandbox (a test's unsandboxed runner) is kept as it was given."""
    if given is not None and not isinstance(given, SandboxedWorkflowRunner):
        return given
    sandbox = given or SandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=sandbox.restrictions.with_passthrough_modules(*PASSED_THROUGH_MODULES),
        runner_class=sandbox.runner_class,
    )


def carries_plugin(client: Client) -> bool:
    """Whether the client was connected with the plugin (its workers then get the workflows)."""
    return any(isinstance(p, ResearchPlugin) for p in client.config()["plugins"])


class ResearchPlugin(SimplePlugin):
    def __init__(self) -> None:
        super().__init__(
            PLUGIN_NAME,
            data_converter=pydantic_data_converter,
            interceptors=[RunTracingInterceptor(), NodeSpanInterceptor()],
            workflows=_with_research_workflows,
            workflow_runner=research_workflow_runner,
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        if config.get("task_queue", "").endswith(LLM_QUEUE_SUFFIX):
            # Leave the LLM queue's worker as it was given: no workflow pollers there.
            workflows = config.get("workflows")
            config = super().configure_worker(config)
            config["workflows"] = list(workflows or [])
            return config
        return super().configure_worker(config)


__all__ = [
    "PASSED_THROUGH_MODULES",
    "PLUGIN_NAME",
    "RESEARCH_WORKFLOWS",
    "ResearchPlugin",
    "carries_plugin",
    "research_workflow_runner",
]
