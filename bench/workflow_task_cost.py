"""CPU cost of the research workflow's own code per workflow task, without a server (issue 29
item 2).

Replaying a recorded history runs exactly the workflow code a worker runs for that run's
workflow tasks (decoding the activity results, the decisions, the commands, the queries' state
views), with no activity, LLM or server involved. So the process CPU of a replay, divided by the
history's workflow tasks, is the worker's cost per activation, apart from the gRPC poll and
response. The load of other processes changes it little (CPU seconds, not wall).

Each committed history (tests/histories/) is replayed `--repeats` times per runner, the runners
interleaved:
- `sandbox`: what the worker runs (ResearchPlugin's runner: the SDK's sandbox with the
  product's pure modules passed through, common/temporal_plugin.py);
- `sandbox-default`: the SDK's sandbox with its default restrictions, as before the plugin
  configured it (the workflow modules' own `imports_passed_through` blocks only);
- `unsandboxed`: no sandbox at all, the floor of what the sandbox could cost.

    python -m bench.workflow_task_cost [--repeats 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, ReplayerConfig, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from common.temporal_plugin import ResearchPlugin
from inspection.history import _quiet_runtime

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
RUNNERS: dict[str, Callable[[], WorkflowRunner | None]] = {
    "sandbox": lambda: None,  # the plugin's own runner
    "sandbox-default": SandboxedWorkflowRunner,
    "unsandboxed": UnsandboxedWorkflowRunner,
}


def _histories() -> list[tuple[str, WorkflowHistory, int]]:
    found = []
    for path in sorted(HISTORIES.glob("replay-*.json")):
        data = json.loads(path.read_text())
        tasks = sum(e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_STARTED" for e in data["events"])
        found.append((path.stem, WorkflowHistory.from_json(path.stem, data), tasks))
    return found


class _FixedRunner(ResearchPlugin):
    """The plugin with another workflow runner, to compare runners under the same converter,
    interceptors and workflows."""

    def __init__(self, runner: WorkflowRunner) -> None:
        super().__init__()
        self._runner = runner

    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        config = super().configure_replayer(config)
        config["workflow_runner"] = self._runner
        return config


async def _replay_cpu(history: WorkflowHistory, runner: WorkflowRunner | None) -> float:
    plugin = ResearchPlugin() if runner is None else _FixedRunner(runner)
    replayer = Replayer(workflows=[], plugins=[plugin], runtime=_quiet_runtime())
    started = time.process_time()
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    spent = time.process_time() - started
    if result.replay_failure is not None:
        raise SystemExit(f"{history.workflow_id} does not replay: {result.replay_failure}")
    return spent


async def measure(
    histories: list[tuple[str, WorkflowHistory, int]], repeats: int
) -> dict[str, dict[str, float]]:
    """Median CPU milliseconds per workflow task, per history and runner."""
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for name, history, tasks in histories:
            for runner_name, make in RUNNERS.items():
                spent = await _replay_cpu(history, make())
                samples.setdefault((name, runner_name), []).append(spent * 1000 / tasks)
    table: dict[str, dict[str, float]] = {}
    for (name, runner_name), values in samples.items():
        table.setdefault(name, {})[runner_name] = statistics.median(values)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    histories = _histories()
    table = asyncio.run(measure(histories, args.repeats))
    names = list(RUNNERS)
    print("| history (workflow tasks) | " + " | ".join(f"{n}, ms/task" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    tasks = {name: t for name, _, t in histories}
    for history, row in table.items():
        cells = " | ".join(f"{row[n]:.2f}" for n in names)
        print(f"| {history} ({tasks[history]}) | {cells} |")


if __name__ == "__main__":
    main()
