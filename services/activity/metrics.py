"""Prometheus metrics of the activity service."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter("salesperf_activity_events_appended_total", "Events stored.", ["type"])


@functools.cache
def appended(event_type: str) -> Counter:
    """The counter of one event type (looked up once, not per event)."""
    return EVENTS_APPENDED.labels(event_type)


EVENTS_REPLAYED = Counter(
    "salesperf_activity_events_replayed_total", "Appends answered from the log (same event_id)."
)
APPENDS_REJECTED = Counter(
    "salesperf_activity_appends_rejected_total", "Append requests refused.", ["reason"]
)
GROUP_SIZE = Histogram(
    "salesperf_activity_group_commit_events",
    "Events coalesced into one group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 5000),
)
FEED_EVENTS_SERVED = Counter(
    "salesperf_activity_feed_events_served_total", "Events served by the feed."
)
EVENTS_IMPORTED = Counter(
    "salesperf_activity_events_imported_total", "Events stored by bulk imports."
)
IMPORT_ROWS_REJECTED = Counter(
    "salesperf_activity_import_rows_rejected_total", "Rows of imported files refused."
)
