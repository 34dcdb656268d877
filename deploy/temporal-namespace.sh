#!/bin/sh
# Register the namespace and TTD-DR's custom search attributes. Runs in a one-shot
# temporalio/admin-tools container once the server is healthy; workers and the client start only
# after it succeeded.
#
# Safe to re-run: an existing namespace is left as it is, and creating a search attribute that
# already exists with the same type is a no-op (a different type is an error, on purpose).
set -eu

address=${TEMPORAL_ADDRESS:-temporal:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${TEMPORAL_NAMESPACE_RETENTION:-7d}

# The server accepts connections a little before every service inside it is ready (and a new
# namespace takes a few seconds to reach all of them): retry each step for up to a minute.
retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 30 ]; then
      echo "temporal-namespace: giving up after $attempt attempts: $*" >&2
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

ensure_namespace() {
  temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1 ||
    temporal operator namespace create --address "$address" --namespace "$namespace" \
      --retention "$retention"
}

# The names and types the workflow upserts: TtdrPhase (the current phase), TtdrIteration (the
# denoising step) and TtdrQuality (the judge's last score), so runs can be listed and filtered by
# them in the Web UI and with `temporal workflow list --query`.
ensure_search_attributes() {
  temporal operator search-attribute create --address "$address" --namespace "$namespace" \
    --name TtdrPhase --type Keyword \
    --name TtdrIteration --type Int \
    --name TtdrQuality --type Double \
    --name TtdrParent --type Keyword
}

retry temporal operator cluster health --address "$address"
retry ensure_namespace
retry ensure_search_attributes
temporal operator search-attribute list --address "$address" --namespace "$namespace"
echo "temporal-namespace: namespace ${namespace} ready"
