"""A Litestar ``Store`` on the ``session_record`` table: sessions and rate limits shared by every process.

Litestar's memory and file stores hold state in one process or on one disk; with several portal processes
behind a load balancer a session or a rate-limit counter must live in the shared database (DESIGN section 3).
Keys are namespaced (``sessions:...``, ``rate_limit:...``) so ``delete_all`` only clears its own namespace.
"""

import base64
from datetime import UTC, datetime, timedelta

from litestar.stores.base import NamespacedStore

from portal.accounts.tables import SessionRecord


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(value: int | timedelta | None) -> int | None:
    if value is None:
        return None
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


class DatabaseStore(NamespacedStore):
    __slots__ = ("namespace",)

    def __init__(self, namespace: str = "portal") -> None:
        self.namespace = namespace

    def with_namespace(self, namespace: str) -> "DatabaseStore":
        return DatabaseStore(f"{self.namespace}:{namespace}")

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        raw = value.encode() if isinstance(value, str) else value
        seconds = _seconds(expires_in)
        expires_at = _now() + timedelta(seconds=seconds) if seconds is not None else None
        row = SessionRecord(key=self._key(key), data=base64.b64encode(raw).decode("ascii"), expires_at=expires_at)
        await SessionRecord.insert(row).on_conflict(
            target=SessionRecord.key, action="DO UPDATE", values=[SessionRecord.data, SessionRecord.expires_at]
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = await SessionRecord.select(SessionRecord.data, SessionRecord.expires_at).where(
            SessionRecord.key == self._key(key)
        ).first()
        if row is None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= _now():
            await self.delete(key)
            return None
        seconds = _seconds(renew_for)
        if seconds is not None and row["expires_at"] is not None:
            await SessionRecord.update({SessionRecord.expires_at: _now() + timedelta(seconds=seconds)}).where(
                SessionRecord.key == self._key(key)
            )
        return base64.b64decode(row["data"])

    async def delete(self, key: str) -> None:
        await SessionRecord.delete().where(SessionRecord.key == self._key(key))

    async def delete_all(self) -> None:
        await SessionRecord.delete().where(SessionRecord.key.like(f"{self.namespace}:%"))

    async def delete_expired(self) -> int:
        """Remove expired rows of every namespace; returns how many (called at login and by jobs)."""
        expired = SessionRecord.expires_at < _now()
        count = await SessionRecord.count().where(expired)
        if count:
            await SessionRecord.delete().where(expired)
        return count

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await SessionRecord.select(SessionRecord.expires_at).where(
            SessionRecord.key == self._key(key)
        ).first()
        if row is None or row["expires_at"] is None:
            return None
        return max(0, int((row["expires_at"] - _now()).total_seconds()))
