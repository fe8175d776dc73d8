"""The append rules, without a database: idempotency, optimistic concurrency, voids, scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.activity.domain import (
    GroupState,
    Row,
    apply_scope,
    can_see,
    content_hash,
    plan_request,
    prepare,
)
from services.activity.exceptions import (
    AlreadyVoided,
    CannotVoidAVoid,
    EventIdConflict,
    StreamVersionConflict,
    VoidInAnotherStream,
    VoidTargetNotFound,
)
from shared.auth import Principal, Role
from shared.errors import Forbidden
from shared.events import new_event_adapter
from tests.conftest import make_event

ADMIN = Principal(org="o", role=Role.ADMIN, sub="boss")
REP = Principal(org="o", role=Role.REP, sub="rep-1", team="north")
MANAGER = Principal(org="o", role=Role.MANAGER, sub="mgr", team="north")


def cand(principal: Principal = ADMIN, event_type: str = "visit.logged", **overrides: object):
    return prepare(
        principal, new_event_adapter.validate_python(make_event(event_type, **overrides))
    )


def stored(c, version: int = 1, position: int = 10) -> Row:
    return Row(
        event_id=c.event_id,
        type=c.type,
        stream=c.stream,
        rep_id=c.rep_id,
        team_id=c.team_id,
        content_hash=c.content_hash,
        stream_version=version,
        position=position,
    )


class TestContentHash:
    def test_the_same_instant_in_another_offset_is_the_same_content(self):
        at = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=2)))
        kwargs = {
            "type": "t",
            "stream": "lead-1",
            "rep_id": "r",
            "team_id": None,
            "schema_version": 1,
            "data_json": '{"a":"1.00"}',
            "metadata_json": "{}",
        }
        assert content_hash(occurred_at=at, **kwargs) == content_hash(
            occurred_at=at.astimezone(UTC), **kwargs
        )

    def test_a_different_payload_is_different_content(self):
        a = cand(stream="lead-1", data={"mode": "onsite", "effective": True, "duration_minutes": 5})
        b = cand(
            stream="lead-1", data={"mode": "onsite", "effective": False, "duration_minutes": 5}
        )
        assert a.content_hash != b.content_hash

    def test_expected_version_is_not_content(self):
        event = make_event()
        a = prepare(ADMIN, new_event_adapter.validate_python(event))
        b = prepare(ADMIN, new_event_adapter.validate_python({**event, "expected_version": 3}))
        assert a.content_hash == b.content_hash


class TestScope:
    def test_a_rep_s_events_default_to_their_own_id_and_team(self):
        assert apply_scope(REP, None, None) == ("rep-1", "north")

    def test_a_rep_cannot_append_for_another_rep(self):
        with pytest.raises(Forbidden) as err:
            apply_scope(REP, "rep-2", None)
        assert err.value.errors[0].field == "rep_id"

    def test_a_manager_appends_for_any_rep_of_their_team_only(self):
        assert apply_scope(MANAGER, "rep-9", None) == ("rep-9", "north")
        with pytest.raises(Forbidden) as err:
            apply_scope(MANAGER, "rep-9", "south")
        assert err.value.errors[0].field == "team_id"

    def test_a_rep_whose_token_names_no_team_cannot_claim_one(self):
        loner = Principal(org="o", role=Role.REP, sub="rep-x")
        assert apply_scope(loner, None, None) == ("rep-x", None)
        with pytest.raises(Forbidden) as err:
            apply_scope(loner, None, "team-south")
        assert err.value.errors[0].field == "team_id"

    def test_admins_write_anything(self):
        assert apply_scope(ADMIN, "rep-9", "south") == ("rep-9", "south")

    @pytest.mark.parametrize(
        ("principal", "rep", "team", "visible"),
        [
            (REP, "rep-1", "x", True),
            (REP, "rep-2", "north", False),
            (MANAGER, "rep-2", "north", True),
            (MANAGER, "rep-1", "south", False),
            (ADMIN, None, None, True),
            (Principal(org="o", role=Role.BI, sub="bi"), "r", "t", True),
        ],
    )
    def test_who_sees_what(self, principal, rep, team, visible):
        assert can_see(principal, rep, team) is visible


class TestPlan:
    def test_new_events_get_consecutive_stream_versions(self):
        state = GroupState(versions={"lead-1": 4})
        first, second = cand(stream="lead-1"), cand(stream="lead-1")
        decisions = plan_request(state, ADMIN, [first, second], batch=True)
        assert [d.row.stream_version for d in decisions] == [5, 6]
        assert all(d.created for d in decisions)
        assert state.versions["lead-1"] == 6
        assert set(state.known) == {first.event_id, second.event_id}

    def test_a_replay_returns_the_stored_row_and_stores_nothing(self):
        c = cand()
        state = GroupState(known={c.event_id: stored(c)})
        [decision] = plan_request(state, ADMIN, [c], batch=False)
        assert not decision.created
        assert decision.row.position == 10
        assert list(state.known) == [c.event_id]
        assert state.versions == {}

    def test_a_replay_ignores_a_now_stale_expected_version(self):
        event = make_event(expected_version=0)
        c = prepare(ADMIN, new_event_adapter.validate_python(event))
        state = GroupState(known={c.event_id: stored(c)}, versions={c.stream: 1})
        [decision] = plan_request(state, ADMIN, [c], batch=False)
        assert not decision.created

    def test_the_same_id_with_other_content_is_a_conflict_naming_the_item(self):
        c = cand()
        other = cand(event_id=str(c.event_id), stream="lead-other")
        state = GroupState(known={c.event_id: stored(c)})
        with pytest.raises(EventIdConflict) as err:
            plan_request(state, ADMIN, [cand(), other], batch=True)
        assert err.value.errors[0].field == "events[1].event_id"
        assert list(state.known) == [c.event_id]
        assert state.versions == {}

    def test_the_same_event_twice_in_one_batch_is_stored_once(self):
        c = cand()
        decisions = plan_request(GroupState(), ADMIN, [c, c], batch=True)
        assert [d.created for d in decisions] == [True, False]
        assert decisions[0].row is decisions[1].row

    def test_a_stale_expected_version_is_refused(self):
        state = GroupState(versions={"lead-1": 3})
        with pytest.raises(StreamVersionConflict) as err:
            plan_request(state, ADMIN, [cand(stream="lead-1", expected_version=2)], batch=False)
        assert err.value.errors[0].field == "expected_version"
        assert "version 3" in err.value.detail

    def test_expected_version_zero_means_a_new_stream(self):
        state = GroupState()
        [d] = plan_request(state, ADMIN, [cand(stream="lead-new", expected_version=0)], batch=False)
        assert d.row.stream_version == 1

    def test_expected_versions_inside_a_batch_count_the_events_before_them(self):
        state = GroupState(versions={"lead-1": 1})
        events = [
            cand(stream="lead-1", expected_version=1),
            cand(stream="lead-1", expected_version=2),
        ]
        assert [d.row.stream_version for d in plan_request(state, ADMIN, events, batch=True)] == [
            2,
            3,
        ]

    def test_a_rejected_request_leaves_the_state_for_the_next_one(self):
        state = GroupState(versions={"lead-1": 1})
        with pytest.raises(StreamVersionConflict):
            plan_request(
                state,
                ADMIN,
                [cand(stream="lead-1"), cand(stream="lead-1", expected_version=1)],
                batch=True,
            )
        assert state.versions == {"lead-1": 1}
        assert state.known == {}
        [d] = plan_request(state, ADMIN, [cand(stream="lead-1", expected_version=1)], batch=False)
        assert d.row.stream_version == 2


class TestVoids:
    def void(self, target, principal: Principal = ADMIN, **overrides: object):
        data = {"voided_event_id": str(target.event_id), "reason": "typo"}
        fields = {"stream": target.stream, "data": data, **overrides}
        return cand(principal, "event.voided", **fields)

    def test_a_void_of_a_stored_event_is_accepted(self):
        target = cand()
        state = GroupState(known={target.event_id: stored(target)}, versions={target.stream: 1})
        [d] = plan_request(state, ADMIN, [self.void(target)], batch=False)
        assert d.created
        assert d.row.stream_version == 2
        assert target.event_id in state.voided

    def test_an_event_and_its_void_in_one_batch(self):
        target = cand()
        decisions = plan_request(GroupState(), ADMIN, [target, self.void(target)], batch=True)
        assert [d.row.stream_version for d in decisions] == [1, 2]

    def test_voiding_an_unknown_event_names_the_field(self):
        with pytest.raises(VoidTargetNotFound) as err:
            plan_request(GroupState(), ADMIN, [self.void(cand())], batch=False)
        assert err.value.errors[0].field == "data.voided_event_id"

    def test_a_rep_cannot_void_another_rep_s_event(self):
        target = cand(ADMIN, rep_id="rep-2")
        state = GroupState(known={target.event_id: stored(target)})
        with pytest.raises(VoidTargetNotFound):
            plan_request(
                state, REP, [self.void(target, REP, rep_id=None, team_id=None)], batch=False
            )

    def test_voiding_twice_is_a_conflict(self):
        target = cand()
        state = GroupState(known={target.event_id: stored(target)}, voided={target.event_id})
        with pytest.raises(AlreadyVoided):
            plan_request(state, ADMIN, [self.void(target)], batch=False)

    def test_two_voids_of_one_event_in_a_batch_are_a_conflict(self):
        target = cand()
        state = GroupState(known={target.event_id: stored(target)})
        with pytest.raises(AlreadyVoided) as err:
            plan_request(state, ADMIN, [self.void(target), self.void(target)], batch=True)
        assert err.value.errors[0].field == "events[1].data.voided_event_id"

    def test_a_void_belongs_to_the_stream_of_its_target(self):
        target = cand()
        state = GroupState(known={target.event_id: stored(target)})
        with pytest.raises(VoidInAnotherStream) as err:
            plan_request(state, ADMIN, [self.void(target, stream="lead-elsewhere")], batch=False)
        assert err.value.errors[0].field == "stream"

    def test_a_void_cannot_be_voided(self):
        target = cand()
        first = self.void(target)
        state = GroupState(
            known={target.event_id: stored(target), first.event_id: stored(first, 2)}
        )
        with pytest.raises(CannotVoidAVoid):
            plan_request(state, ADMIN, [self.void(first)], batch=False)
