"""The tenant's prefix in the documents bucket: one conditional write, found when it exists."""

from __future__ import annotations

import uuid

from services.storage.service import Storage, tenant_prefix
from tests.provisioning.conftest import Env


async def test_the_tenant_prefix_is_made_once_and_found_after_that(shared: Env) -> None:
    storage = Storage(shared.settings)
    tenant_id = uuid.uuid4()
    made = await storage.ensure_tenant_prefix(tenant_id, "acme", "run-1:create_storage")
    assert made.created and made.key == tenant_prefix(tenant_id)
    # A retried step (another idempotency key) finds it and leaves the first write alone.
    again = await storage.ensure_tenant_prefix(tenant_id, "acme", "run-1:create_storage-2")
    assert not again.created
    assert (again.key, again.etag) == (made.key, made.etag)
    head = storage._client.head_object(Bucket=storage.bucket, Key=made.key)
    assert head["Metadata"]["idempotency-key"] == "run-1:create_storage"
    assert await storage.tags(made.key) == {"pmo-tenant": str(tenant_id), "pmo-slug": "acme"}
    assert await storage.keys(made.key) == [made.key]


async def test_only_if_new_leaves_an_existing_object_alone(shared: Env) -> None:
    storage = Storage(shared.settings)
    tenant_id = uuid.uuid4()
    key = f"{tenant_prefix(tenant_id)}note.txt"
    first = await storage.put(key, b"one", tenant_id=tenant_id, idempotency_key="a")
    assert first is not None
    refused = await storage.put(
        key, b"two", tenant_id=tenant_id, idempotency_key="b", only_if_new=True
    )
    assert refused is None
    assert await storage.read(key) == b"one"
