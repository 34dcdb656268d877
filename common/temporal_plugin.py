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
from temporalio.worker import WorkerConfig

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
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        if config.get("task_queue", "").endswith(LLM_QUEUE_SUFFIX):
            # Leave the LLM queue's worker as it was given: no workflow pollers there.
            workflows = config.get("workflows")
            config = super().configure_worker(config)
            config["workflows"] = list(workflows or [])
            return config
        return super().configure_worker(config)


__all__ = ["PLUGIN_NAME", "RESEARCH_WORKFLOWS", "ResearchPlugin", "carries_plugin"]
