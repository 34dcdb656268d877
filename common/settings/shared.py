"""Variables both processes read: the task queue, local documents, the LLM endpoint (the worker
calls it; the desk prices a run with it), tracing content and the notify guard."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from common.settings.base import AsciiFloat, AsciiInt, EnvSettings
from common.settings.fields import setting

ResponseFormat = Literal["auto", "json_schema", "json_object", "prompt"]


class SharedSettings(EnvSettings):
    task_queue: str = setting(
        "ttdr",
        "the task queue workers poll and clients start runs on; node activities use "
        "`<queue>-llm` when `TTDR_LLM_MAX_RPM` is set",
        min_length=1,
    )
    corpus: str | None = setting(
        None,
        "the folders of local documents to index, separated by `:` (the OS path separator); "
        "an empty entry is refused (`search/local_provider.py`)",
        shown="the demo corpus (Python's documentation)",
    )
    cache_dir: Path | None = setting(
        None,
        "where the index (and the demo corpus) is kept",
        shown="`$XDG_CACHE_HOME/ttdr`, else `~/.cache/ttdr`",
    )
    index_file_seconds: AsciiFloat = setting(
        60.0,
        "the CPU seconds a document reader may spend on one file before the file is skipped",
        ge=1,
        le=86_400,
    )
    index_file_memory_mb: AsciiInt = setting(
        1024,
        "the memory (MiB) a document reader may add for one file before the file is skipped",
        ge=64,
        le=1_048_576,
    )
    trace_content: bool = setting(
        False,
        "`true`: prompts, completions and search queries go into spans (credentials never do)",
    )
    notify_allow_loopback: bool = setting(
        False,
        "`true` lets a watched topic's notification go to a loopback address, **for tests only**",
    )
    # The LLM endpoint: LLMSettings.from_settings (activities/llm_settings.py) resolves these
    # (TTDR_* over OPENAI_*, the default model on OpenAI's endpoint).
    llm_base_url: str | None = setting(
        None,
        "the OpenAI-compatible endpoint, `http://` or `https://`, ending in `/v1`; with no "
        "endpoint and no key the worker starts the embedded llama.cpp model",
        shown="`OPENAI_BASE_URL`, else `https://api.openai.com/v1` when only a key is set",
    )
    openai_base_url: str | None = setting(
        None, "the endpoint when `TTDR_LLM_BASE_URL` is not set", env="OPENAI_BASE_URL"
    )
    llm_api_key: SecretStr | None = setting(
        None, "the endpoint's key, sent as `Authorization: Bearer`", shown="`OPENAI_API_KEY`"
    )
    openai_api_key: SecretStr | None = setting(
        None, "the key when `TTDR_LLM_API_KEY` is not set", env="OPENAI_API_KEY"
    )
    llm_model: str | None = setting(
        None,
        "the model every node calls",
        shown="`gpt-4.1-mini` on OpenAI's endpoint; required on any other",
    )
    llm_judge_model: str | None = setting(
        None, "the model of the judge (`quality_assessor`)", shown="`TTDR_LLM_MODEL`"
    )
    llm_response_format: ResponseFormat = setting(
        "auto", "how structured output is asked for (`auto` tries each in turn)"
    )
    llm_timeout_seconds: AsciiFloat = setting(
        600.0,
        "the most one LLM call may take, first byte to last, in seconds; within a node "
        "activity at most 95% of the node's timeout",
        gt=0,
        le=3600,
    )
    llm_max_response_bytes: AsciiInt = setting(
        4 * 1024 * 1024,
        "the most of one answer's body read, in bytes (64 KiB to 256 MiB)",
        ge=64 * 1024,
        le=256 * 1024 * 1024,
    )
    llm_prices: Path | None = setting(
        None,
        "a JSON file of prices per million tokens that replace or extend the built-in table "
        "(`activities/prices.py`)",
        shown="the built-in table",
    )
