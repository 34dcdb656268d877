"""The floor: what a bare `temporalio` program pays for a chain of dependent LLM calls.

A workflow that runs `calls` activities one after another, each an httpx POST of a short chat
completion to the same fake LLM the product's benchmark uses, on SDK defaults (JSON data
converter, the sandbox, eager activity start on the workflow's own queue). Whatever the product
costs per call beyond this is its own orchestration (bench/side_by_side.py compares them).

As a worker process (what bench/side_by_side.py starts, so its CPU is its own):

    .venv/bin/python -m bench.floor --address 127.0.0.1:7233 --queue floor \
        --llm-url http://127.0.0.1:8099/v1
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():  # the activity's client, as any SDK user would
    import httpx

WORKFLOW_NAME = "FloorChain"


@dataclass
class ChainInput:
    calls: int


@dataclass
class CallInput:
    step: int
    previous: str  # the last answer: each call depends on the one before


class FloorActivities:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http, self._base_url = http, base_url

    @activity.defn(name="floor_llm_call")
    async def llm_call(self, inp: CallInput) -> str:
        reply = await self._http.post(
            f"{self._base_url}/chat/completions",
            json={
                "model": "bench",
                "messages": [{"role": "user", "content": f"step {inp.step}: {inp.previous[:200]}"}],
            },
        )
        reply.raise_for_status()
        return str(reply.json()["choices"][0]["message"]["content"])


@workflow.defn(name=WORKFLOW_NAME)
class FloorChain:
    @workflow.run
    async def run(self, inp: ChainInput) -> int:
        answer = ""
        for step in range(inp.calls):
            answer = await workflow.execute_activity(
                "floor_llm_call",
                CallInput(step, answer),
                result_type=str,
                start_to_close_timeout=timedelta(seconds=60),
            )
        return inp.calls


async def serve(address: str, queue: str, llm_url: str) -> None:
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=60) as http:
        activities = FloorActivities(http, llm_url)
        async with Worker(
            client, task_queue=queue, workflows=[FloorChain], activities=[activities.llm_call]
        ):
            print(f"worker ready: floor on {queue}", flush=True)
            await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--llm-url", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.queue, args.llm_url))


if __name__ == "__main__":
    main()
