"""Column helpers shared by every area's tables."""

from datetime import UTC, datetime

from piccolo.columns import ForeignKey, Timestamptz
from piccolo.columns.base import OnDelete

from portal.lib import piccolo_speedups

# Every area's tables import this module, so Piccolo's behaviour-identical fast paths are in place before the
# first table exists and any query is built (issue #10: the case list query spent 3x asyncpg's time in Piccolo).
piccolo_speedups.apply()


def utc_now() -> datetime:
    return datetime.now(UTC)


def created_at() -> Timestamptz:
    return Timestamptz(default=utc_now, null=False)


def restrict_fk(references, *, null: bool = False, index: bool = True) -> ForeignKey:
    # History must never disappear with its parent: deleting a referenced row is refused.
    return ForeignKey(references=references, null=null, index=index, on_delete=OnDelete.restrict)
