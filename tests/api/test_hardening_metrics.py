"""Each service's `/metrics` shows its own counters, even with the three in one process (as
under `salesperf run`): one Prometheus registry per service."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.activity.main import create_app as create_activity
from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from tests.api.activity.conftest import activity_settings
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings


def client(app: FastAPI, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")


class TestEachServiceShowsItsOwnMetrics:
    async def test_three_apps_in_one_process_count_apart(self) -> None:
        apps = {
            "activity": create_activity(activity_settings()),
            "scoring": create_scoring(scoring_settings()),
            "goals": create_goals(goals_settings()),
        }
        pages: dict[str, str] = {}
        for name, app in apps.items():
            async with client(app, name) as http:
                assert (await http.get("/healthz")).status_code == 200
        for name, app in apps.items():
            async with client(app, name) as http:
                answer = await http.get("/metrics")
                assert answer.status_code == 200
                pages[name] = answer.text
        for name, page in pages.items():
            assert f'service="{name}"' in page
            for other in set(apps) - {name}:
                assert f'service="{other}"' not in page, (name, other)
                assert f"salesperf_{other}_" not in page, (name, other)
        assert "salesperf_activity_events_appended_total" in pages["activity"]
