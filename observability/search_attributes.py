"""Register the product's custom search attributes on whatever server the worker talks to."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from workflows.visibility import ALL_KEYS

log = logging.getLogger(__name__)


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add TtdrPhase / TtdrIteration / TtdrQuality when the namespace lacks them; return the
    names added. A server that refuses (e.g. a cloud namespace without operator rights) gets a
    warning naming the command to run, because runs would otherwise fail to upsert them."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(listed.custom_attributes) | set(listed.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL_KEYS
        if key.name not in known
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as err:
        log.warning(
            "could not register search attributes %s (%s): register them with `temporal operator "
            "search-attribute create --namespace %s --name TtdrPhase --type Keyword` (and "
            "TtdrIteration Int, TtdrQuality Double)",
            ", ".join(missing),
            err.message,
            namespace,
        )
        return []
    return sorted(missing)
