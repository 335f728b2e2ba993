"""S3 through boto3: the documents bucket, each tenant's prefix, exports.

Every object is written with server-side encryption requested and tagged with its tenant. Calls
are blocking boto3 calls run in a thread, so a worker's event loop keeps serving other runs.
Failures are sorted once, here: :class:`StorageUnavailable` (worth retrying: the endpoint is
unreachable, throttling, 5xx) or :class:`StorageRefused` (S3 said no: retrying will not help).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from services.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TENANTS_PREFIX = "tenants/"
ENCRYPTION: Final = "AES256"
_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "SlowDown", "Throttling", "ThrottlingException", "InternalError"}
)


class StorageError(Exception):
    """S3 could not do what was asked; ``transient`` says whether trying again may help."""

    transient = True


class StorageUnavailable(StorageError):
    transient = True


class StorageRefused(StorageError):
    transient = False


def tenant_prefix(tenant_id: uuid.UUID) -> str:
    return f"{TENANTS_PREFIX}{tenant_id}/"


def export_prefix(tenant_id: uuid.UUID, run_id: uuid.UUID) -> str:
    """Where the offboarding run ``run_id`` writes the tenant's export."""
    return f"{tenant_prefix(tenant_id)}exports/{run_id}/"


@dataclass(frozen=True, slots=True)
class StoredObject:
    bucket: str
    key: str
    etag: str
    created: bool  # False: it was already there (a retry found it)


def _classify(exc: Exception, doing: str) -> StorageError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "?"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"S3 refused to {doing}: {code} ({error.get('Message', '')})".rstrip(" ()")
        if status >= 500 or status in {408, 429} or code in _TRANSIENT_CODES:
            return StorageUnavailable(message)
        return StorageRefused(message)
    if isinstance(exc, NoCredentialsError):
        return StorageRefused(f"S3 credentials are missing ({doing})")
    return StorageUnavailable(f"S3 is unreachable ({doing}): {exc}")


class Storage:
    """The documents bucket. One instance per process: it holds a thread-safe boto3 client."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self.region = settings.s3_region
        path_style = settings.s3_endpoint_url is not None  # S3-compatible servers (moto, MinIO)
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                # One quick retry inside boto3; longer outages are the workflow's retries.
                retries={"total_max_attempts": 2, "mode": "standard"},
                connect_timeout=3,
                read_timeout=20,
            ),
        )
        self._bucket_ready = False

    async def _call(self, doing: str, call: Any, /, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(call, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, doing) from exc

    async def ensure_bucket(self) -> bool:
        """Create the bucket (encrypted by default, not public) if it is missing; True if made."""
        if self._bucket_ready:
            return False
        created = False
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                raise _classify(exc, f"find bucket {self.bucket}") from exc
            created = await self._create_bucket()
        except BotoCoreError as exc:
            raise _classify(exc, f"find bucket {self.bucket}") from exc
        self._bucket_ready = True
        return created

    async def _create_bucket(self) -> bool:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await asyncio.to_thread(self._client.create_bucket, **kwargs)
        except ClientError as exc:
            # Another worker made it a moment ago.
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise _classify(exc, f"create bucket {self.bucket}") from exc
            return False
        except BotoCoreError as exc:
            raise _classify(exc, f"create bucket {self.bucket}") from exc
        await self._call(
            "encrypt the bucket",
            self._client.put_bucket_encryption,
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": ENCRYPTION}}]
            },
        )
        await self._call(
            "block public access",
            self._client.put_public_access_block,
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        return True

    async def find(self, key: str) -> StoredObject | None:
        try:
            head = await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise _classify(exc, f"read {key}") from exc
        except BotoCoreError as exc:
            raise _classify(exc, f"read {key}") from exc
        return StoredObject(self.bucket, key, str(head.get("ETag", "")), created=False)

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        tenant_id: uuid.UUID,
        idempotency_key: str,
        content_type: str = "application/octet-stream",
        tags: dict[str, str] | None = None,
        only_if_new: bool = False,
    ) -> StoredObject | None:
        """Write ``key`` (encrypted, tagged with its tenant). Writing the same bytes under the same
        key again changes nothing, so a retried write is safe. ``only_if_new``: a conditional
        write (``If-None-Match: *``) that leaves an existing object alone and returns None."""
        await self.ensure_bucket()
        conditions: dict[str, Any] = {"IfNoneMatch": "*"} if only_if_new else {}
        try:
            put = await asyncio.to_thread(
                self._client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ServerSideEncryption=ENCRYPTION,
                Metadata={"idempotency-key": idempotency_key},
                Tagging=urlencode({"pmo-tenant": str(tenant_id), **(tags or {})}),
                **conditions,
            )
        except ClientError as exc:
            if only_if_new and exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return None
            raise _classify(exc, f"write {key}") from exc
        except BotoCoreError as exc:
            raise _classify(exc, f"write {key}") from exc
        return StoredObject(self.bucket, key, str(put.get("ETag", "")), created=True)

    async def ensure_tenant_prefix(
        self, tenant_id: uuid.UUID, slug: str, idempotency_key: str
    ) -> StoredObject:
        """The tenant's prefix, marked by an empty object ``tenants/<id>/``; found if it exists.

        One conditional write, not a look then a write: a round trip fewer on every signup, and
        no window between the two."""
        key = tenant_prefix(tenant_id)
        made = await self.put(
            key,
            b"",
            tenant_id=tenant_id,
            idempotency_key=idempotency_key,
            content_type="application/x-directory",
            tags={"pmo-slug": slug},
            only_if_new=True,
        )
        if made is not None:
            return made
        found = await self.find(key)
        if found is None:  # deleted between the two calls: write it again
            return await self.ensure_tenant_prefix(tenant_id, slug, idempotency_key)
        return found

    async def read(self, key: str) -> bytes:
        got = await self._call(f"read {key}", self._client.get_object, Bucket=self.bucket, Key=key)
        return bytes(await asyncio.to_thread(got["Body"].read))

    def download_link(self, key: str, seconds: int) -> str:
        """A link that reads ``key`` without credentials for ``seconds`` (a presigned GET: signed
        here, with no call to S3)."""
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
        )

    async def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (for operators and checks)."""
        paginator = self._client.get_paginator("list_objects_v2")

        def collect() -> list[str]:
            found: list[str] = []
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(str(item["Key"]) for item in page.get("Contents", []))
            return found

        try:
            return await asyncio.to_thread(collect)
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, f"list {prefix}") from exc

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; how many there were. Deleting what is gone
        already is no error, so a repeated (or concurrent) deletion is safe."""
        keys = await self.keys(prefix)
        for start in range(0, len(keys), 1000):  # S3 deletes at most 1,000 keys a request
            batch = keys[start : start + 1000]
            deleted = await self._call(
                f"delete under {prefix}",
                self._client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if errors := deleted.get("Errors"):
                first = errors[0]
                code = str(first.get("Code", "?"))
                failure = StorageUnavailable if code in _TRANSIENT_CODES else StorageRefused
                raise failure(
                    f"S3 refused to delete {first.get('Key')}: {code} ({first.get('Message', '')})"
                    + (f" and {len(errors) - 1} more" if len(errors) > 1 else "")
                )
        return len(keys)

    async def tags(self, key: str) -> dict[str, str]:
        got = await self._call(
            f"read the tags of {key}", self._client.get_object_tagging, Bucket=self.bucket, Key=key
        )
        return {t["Key"]: t["Value"] for t in got["TagSet"]}
