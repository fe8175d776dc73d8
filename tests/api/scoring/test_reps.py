"""`GET /v1/reps/{rep}`: the team a rep's own history places them in (their latest day of
activity), shown to whoever may see that rep's numbers; everyone else, like a rep without
history, gets the same 404."""

from __future__ import annotations

import httpx
import pytest

from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, eventually, visit, void
from tests.conftest import TokenFactory

NOBODY = "urn:salesperf:problem:rep-not-found"


@pytest.fixture
async def history(scoring: httpx.AsyncClient, auth: TokenFactory, post_events) -> None:
    """r2 works in t2; r4 moved from t2 to t1; r5's only visit was voided."""
    mistake = visit("r5", "t2", "a5", at("2026-03-03"))
    events = [
        *(visit("r2", "t2", "a2", at(f"2026-03-0{d}")) for d in (2, 3, 5)),
        visit("r4", "t2", "a4", at("2026-03-02")),
        visit("r4", "t1", "a4", at("2026-03-04")),
        mistake,
        void(mistake, at("2026-03-06")),
    ]
    await settled(scoring, auth(), await post_events(events))


async def placement(scoring: httpx.AsyncClient, headers: dict[str, str], rep: str) -> object:
    answer = await scoring.get(f"/v1/reps/{rep}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


class TestWhereTheHistoryPlacesARep:
    async def test_the_team_of_their_latest_day(self, scoring, auth, history) -> None:
        r2 = await placement(scoring, auth(), "r2")
        assert isinstance(r2, dict)
        assert r2["up_to"]["position"] > 0
        assert {k: r2[k] for k in ("rep", "team", "last_seen")} == {
            "rep": "r2",
            "team": "t2",
            "last_seen": "2026-03-05",
        }
        r4 = await placement(scoring, auth(), "r4")
        assert isinstance(r4, dict)
        assert (r4["team"], r4["last_seen"]) == ("t1", "2026-03-04")

    @pytest.mark.parametrize("rep", ["r5", "nobody"])
    async def test_no_history_or_only_a_voided_one_is_a_404(
        self, scoring, auth, history, rep
    ) -> None:
        async def nowhere() -> httpx.Response | None:  # a void may be folded in by a rebuild
            answer = await scoring.get(f"/v1/reps/{rep}", headers=auth())
            return answer if answer.status_code == 404 else None

        assert (await eventually(nowhere)).json()["type"] == NOBODY


class TestWhoMayAsk:
    async def test_those_who_see_the_reps_numbers(self, scoring, auth, history) -> None:
        for headers in (
            auth("bi", sub="analyst"),
            auth("service", sub="goals"),
            auth("manager", sub="m2", team="t2"),
            auth("rep", sub="r2", team="t2"),
        ):
            assert (await placement(scoring, headers, "r2"))["team"] == "t2"  # type: ignore[index]

    async def test_anyone_else_gets_the_404_of_a_rep_without_history(
        self, scoring, auth, history, org
    ) -> None:
        unknown = (await scoring.get("/v1/reps/nobody", headers=auth())).json()
        for headers in (
            auth("manager", sub="m1", team="t1"),
            auth("rep", sub="r4", team="t1"),
            auth(org_id=f"{org}-elsewhere"),
            auth(org_id="*", sub="platform"),
        ):
            answer = await scoring.get("/v1/reps/r2", headers=headers)
            assert answer.status_code == 404
            assert {**answer.json(), "detail": ""} == {**unknown, "detail": ""}

    async def test_no_token_is_a_401_and_a_bad_id_a_422(self, scoring, auth) -> None:
        assert (await scoring.get("/v1/reps/r2")).status_code == 401
        answer = await scoring.get("/v1/reps/-bad", headers=auth())
        assert answer.status_code == 422
