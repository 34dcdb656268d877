# The TTD-DR worker (and client) image, used by docker-compose.yml. It installs the base
# dependencies of pyproject.toml — the same list the tests install with `.[dev]` — and nothing
# else: no embedded llama.cpp model (the `local-llm` extra), so a worker in this image needs an
# LLM endpoint (TTDR_LLM_* / OPENAI_*, given at run time; no key is ever baked in).
FROM python:3.11.15-slim-trixie

# TTDR_CACHE_DIR: the demo corpus and the search index are written there at first start.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    TTDR_CACHE_DIR=/var/cache/ttdr

# uid 1000 matches the first user of most Linux hosts, so reports written to a bind-mounted
# ./reports belong to that user (the compose client can override it with TTDR_UID/TTDR_GID).
RUN groupadd --gid 1000 ttdr \
    && useradd --uid 1000 --gid ttdr --create-home --shell /usr/sbin/nologin ttdr

WORKDIR /app
# Only what `pip install .` and the two entry points need (see also .dockerignore).
COPY pyproject.toml README.md ./
COPY workflows/ workflows/
COPY activities/ activities/
COPY search/ search/
COPY embedded/ embedded/
COPY worker_processes/ worker_processes/
COPY cli/ cli/
COPY common/ common/
COPY observability/ observability/
COPY inspection/ inspection/
COPY export/ export/
COPY desk/ desk/
COPY worker.py client.py ./

# The pip cache lives in a BuildKit cache mount (BuildKit is Docker's default builder), not in
# the image: rebuilding after a code change reuses the downloaded wheels. The import check
# fails the build rather than the first start.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
    && rm -rf build ./*.egg-info \
    && python -c "import worker, client" \
    && install -d -o ttdr -g ttdr /var/cache/ttdr /app/reports

USER ttdr
# Run from /app, so the sources above are what gets imported.
CMD ["python", "worker.py"]
