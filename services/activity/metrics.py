"""Prometheus metrics of the activity service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_APPENDED = Counter("salesperf_activity_events_appended_total", "Events stored.", ["type"])
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
