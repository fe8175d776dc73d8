"""Ownership and known teams, without a database: who may append where (issue 11, §5)."""

from __future__ import annotations

import pytest

from services.activity.domain import (
    GroupState,
    may_append_to,
    may_write_for,
    plan_request,
    prepare,
)
from services.activity.exceptions import ReassignNotAllowed, RepNotInTeam, StreamNotFound
from shared.auth import Principal, Role
from shared.events import new_event_adapter
from tests.conftest import make_event

ADMIN = Principal(org="o", role=Role.ADMIN, sub="boss")
SERVICE = Principal(org="o", role=Role.SERVICE, sub="crm:hubspot")
ANNA = Principal(org="o", role=Role.REP, sub="rep-anna", team="t1")
BEN = Principal(org="o", role=Role.REP, sub="rep-ben", team="t1")
MGR1 = Principal(org="o", role=Role.MANAGER, sub="mgr-1", team="t1")


def cand(principal: Principal, event_type: str = "visit.logged", **overrides: object):
    body = make_event(event_type, **{"rep_id": None, "team_id": None, **overrides})
    return prepare(principal, new_event_adapter.validate_python(body))


def reassign(principal: Principal, stream: str, to: str, **overrides: object):
    return cand(principal, "stream.reassigned", stream=stream, data={"to_rep_id": to}, **overrides)


class TestMayAppendTo:
    def test_a_rep_only_to_their_own_streams(self):
        assert may_append_to(ANNA, "rep-anna", "t1")
        assert not may_append_to(ANNA, "rep-ben", "t1")
        assert not may_append_to(ANNA, None, None)

    def test_a_manager_to_unowned_streams_and_their_team_s(self):
        assert may_append_to(MGR1, None, None)
        assert may_append_to(MGR1, "rep-anna", "t1")
        assert may_append_to(MGR1, "rep-new", None)
        assert not may_append_to(MGR1, "rep-xena", "t2")

    @pytest.mark.parametrize("principal", [ADMIN, SERVICE])
    def test_admins_and_services_anywhere(self, principal):
        assert may_append_to(principal, "rep-xena", "t2")
        assert may_write_for(principal, "t2")

    def test_a_manager_writes_for_their_team_s_reps_and_unplaced_ones(self):
        assert may_write_for(MGR1, "t1")
        assert may_write_for(MGR1, None)
        assert not may_write_for(MGR1, "t2")


class TestPlanning:
    def test_the_first_event_s_rep_owns_a_new_stream(self):
        state = GroupState()
        plan_request(state, ANNA, [cand(ANNA, stream="lead-1")], batch=False)
        owner, row = state.owner_changes["lead-1"]
        assert owner == "rep-anna"
        assert row.stream_version == 1
        assert state.owners["lead-1"] == "rep-anna"

    def test_the_second_of_a_group_to_open_a_stream_finds_it_taken(self):
        state = GroupState()
        plan_request(state, ANNA, [cand(ANNA, stream="lead-1")], batch=False)
        with pytest.raises(StreamNotFound) as exc:
            plan_request(state, BEN, [cand(BEN, stream="lead-1")], batch=False)
        assert exc.value.detail == "There is no stream 'lead-1'."
        assert exc.value.errors is None
        assert state.versions["lead-1"] == 1  # the refused request staged nothing

    def test_ownership_is_checked_before_the_expected_version(self):
        state = GroupState(versions={"lead-1": 4}, owners={"lead-1": "rep-anna"})
        with pytest.raises(StreamNotFound):
            plan_request(state, BEN, [cand(BEN, stream="lead-1", expected_version=1)], batch=False)

    def test_a_reassignment_moves_ownership_within_the_group(self):
        state = GroupState(
            versions={"lead-1": 2},
            owners={"lead-1": "rep-anna"},
            teams={"rep-anna": "t1", "rep-ben": "t1"},
        )
        plan_request(state, MGR1, [reassign(MGR1, "lead-1", "rep-ben")], batch=False)
        assert state.owners["lead-1"] == "rep-ben"
        assert state.owner_changes["lead-1"][0] == "rep-ben"
        plan_request(state, BEN, [cand(BEN, stream="lead-1")], batch=False)
        with pytest.raises(StreamNotFound):
            plan_request(state, ANNA, [cand(ANNA, stream="lead-1")], batch=False)

    def test_a_manager_s_event_for_a_rep_of_another_team_names_the_rep(self):
        state = GroupState(teams={"rep-xena": "t2"})
        with pytest.raises(RepNotInTeam) as exc:
            plan_request(
                state,
                MGR1,
                [cand(MGR1, stream="lead-9"), cand(MGR1, stream="lead-9", rep_id="rep-xena")],
                batch=True,
            )
        assert [e.field for e in exc.value.errors or []] == ["events[1].rep_id"]
        assert state.owner_changes == {}

    def test_an_event_places_its_rep_in_its_team_for_the_rest_of_the_group(self):
        state = GroupState(teams={"rep-new": None})
        plan_request(state, MGR1, [cand(MGR1, stream="lead-1", rep_id="rep-new")], batch=False)
        assert state.teams["rep-new"] == "t1"
        mgr2 = Principal(org="o", role=Role.MANAGER, sub="mgr-2", team="t2")
        with pytest.raises(RepNotInTeam):
            plan_request(state, mgr2, [cand(mgr2, stream="lead-2", rep_id="rep-new")], batch=False)


class TestWhoMayReassign:
    @pytest.mark.parametrize("principal", [ANNA, SERVICE])
    def test_only_managers_and_admins(self, principal):
        with pytest.raises(ReassignNotAllowed):
            reassign(principal, "lead-1", principal.sub)

    @pytest.mark.parametrize("principal", [MGR1, ADMIN])
    def test_the_envelope_s_rep_is_the_new_owner(self, principal):
        c = reassign(principal, "lead-1", "rep-ben")
        assert (c.rep_id, c.reassigns_to) == ("rep-ben", "rep-ben")
