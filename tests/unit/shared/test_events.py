"""The event contract in shared/events.py: examples, money, strictness, streams, upcasting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import (
    CURRENT_SCHEMA_VERSION,
    EVENT_TYPES,
    EXAMPLES,
    PAYLOADS,
    UPCASTERS,
    DealWon,
    LeadCreated,
    new_event_adapter,
    upcast,
)

# The v1 catalogue, as DESIGN.md lists it.
CATALOGUE = {
    "lead.created",
    "lead.qualified",
    "lead.disqualified",
    "visit.logged",
    "call.logged",
    "deal.opened",
    "deal.account_linked",
    "deal.stage_changed",
    "deal.amount_changed",
    "deal.won",
    "deal.lost",
    "invoice.issued",
    "payment.received",
    "account.tier_changed",
    "contact.left",
    "engagement.tracked",
    "lead.consent_changed",
    "stream.reassigned",
    "event.voided",
}

ALL_KINDS = ("lead", "deal", "account")

# Which stream kinds each type may be appended to.
STREAM_KINDS: dict[str, set[str]] = {
    "lead.created": {"lead"},
    "lead.qualified": {"lead"},
    "lead.disqualified": {"lead"},
    "visit.logged": {"lead", "deal", "account"},
    "call.logged": {"lead", "deal", "account"},
    "deal.opened": {"deal"},
    "deal.account_linked": {"deal"},
    "deal.stage_changed": {"deal"},
    "deal.amount_changed": {"deal"},
    "deal.won": {"deal"},
    "deal.lost": {"deal"},
    "invoice.issued": {"account", "deal"},
    "payment.received": {"account", "deal"},
    "account.tier_changed": {"account"},
    "contact.left": {"account"},
    "engagement.tracked": {"lead", "deal", "account"},
    "lead.consent_changed": {"lead"},
    "stream.reassigned": {"lead", "deal", "account"},
    "event.voided": {"lead", "deal", "account"},
}


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[dict[str, Any]]:
    return exc.value.errors()  # type: ignore[return-value]


def won(amount: Any, currency: Any = "EUR") -> dict[str, Any]:
    return {**EXAMPLES["deal.won"], "data": {"amount": amount, "currency": currency}}


# --------------------------------------------------------------------------------- catalogue


class TestTheCatalogue:
    def test_there_are_exactly_the_types_of_the_design(self) -> None:
        assert set(EVENT_TYPES) == CATALOGUE
        assert len(EVENT_TYPES) == len(CATALOGUE)

    def test_every_type_has_an_example_and_a_payload_model(self) -> None:
        assert set(EXAMPLES) == CATALOGUE
        assert set(PAYLOADS) == CATALOGUE

    def test_the_stream_rules_cover_every_type(self) -> None:
        assert set(STREAM_KINDS) == CATALOGUE


class TestEveryExampleIsAValidEvent:
    @pytest.mark.parametrize("event_type", sorted(CATALOGUE))
    def test_the_example_validates_as_its_own_type(self, event_type: str) -> None:
        example = EXAMPLES[event_type]
        event = new_event_adapter.validate_python(example)
        assert event.type == event_type
        assert isinstance(event.data, PAYLOADS[event_type])

    @pytest.mark.parametrize("event_type", sorted(CATALOGUE))
    def test_the_example_has_a_non_empty_payload(self, event_type: str) -> None:
        assert EXAMPLES[event_type]["data"], "an empty example teaches a front end nothing"

    @pytest.mark.parametrize("event_type", sorted(CATALOGUE))
    def test_the_example_survives_a_json_round_trip_unchanged(self, event_type: str) -> None:
        example = EXAMPLES[event_type]
        event = new_event_adapter.validate_json(json.dumps(example))
        dumped = json.loads(new_event_adapter.dump_json(event, exclude_none=True))
        # the server adds defaults (schema_version, payload defaults) but changes nothing sent
        for key, value in example.items():
            if key == "data":
                assert {k: dumped["data"][k] for k in value} == value
            else:
                assert dumped[key] == value, key


# --------------------------------------------------------------------------------- money

EXACT_AMOUNTS = [
    "1250.10",
    "1250.1",
    "1250",
    "0",
    "0.00",
    "0.0001",
    "12.5000",
    "100.10",
    "999999999999999.9999",
]


class TestMoneyIsADecimalStringThatRoundTripsExactly:
    @pytest.mark.parametrize("amount", EXACT_AMOUNTS)
    def test_the_amount_is_dumped_as_the_same_string(self, amount: str) -> None:
        # CLF has 4 minor-unit decimals: every exact amount fits its currency
        event = new_event_adapter.validate_python(won(amount, "CLF"))
        assert event.data.amount == Decimal(amount)
        assert str(event.data.amount) == amount  # the scale is kept: no float ever involved
        assert event.model_dump(mode="json")["data"]["amount"] == amount
        assert event.model_dump()["data"]["amount"] == amount  # python mode dumps a string too

    @pytest.mark.parametrize("amount", EXACT_AMOUNTS)
    def test_the_amount_survives_json_in_and_out(self, amount: str) -> None:
        raw = json.dumps(won(amount, "CLF"))
        event = new_event_adapter.validate_json(raw)
        out = json.loads(new_event_adapter.dump_json(event))
        assert out["data"]["amount"] == amount
        assert isinstance(out["data"]["amount"], str)

    def test_a_decimal_object_is_accepted_and_dumped_as_its_string(self) -> None:
        assert (
            DealWon(amount=Decimal("1250.10"), currency="EUR").model_dump()["amount"] == "1250.10"
        )

    def test_the_example_amounts_are_kept_verbatim(self) -> None:
        event = new_event_adapter.validate_python(EXAMPLES["deal.opened"])
        assert event.model_dump(mode="json")["data"]["amount"] == "24000.00"

    @pytest.mark.parametrize(
        ("amount", "reason"),
        [
            (1250.10, "JSON number"),
            (1250, "JSON number"),
            (True, "JSON number"),
            ("-1.00", "negative"),
            ("-0", "negative"),
            ("1.23456", "4 decimals"),
            ("1" * 16, "15 digits"),
            ("1e3", "4 decimals"),
            ("NaN", "4 decimals"),
            ("Infinity", "4 decimals"),
            ("1,250.10", "4 decimals"),
            (".5", "4 decimals"),
            ("5.", "4 decimals"),
            ("", "4 decimals"),
            (None, "JSON number"),
        ],
    )
    def test_anything_else_is_refused_with_a_clear_message(self, amount: Any, reason: str) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(won(amount))
        [error] = errors_of(exc)
        assert error["loc"][-2:] == ("data", "amount")
        assert reason in error["msg"]

    @pytest.mark.parametrize("amount", ["١٢٣", "１２３.５０"], ids=["arabic-indic", "fullwidth"])
    def test_only_ascii_digits_are_accepted(self, amount: str) -> None:
        """A Unicode-aware \\d used to let these through, stored rewritten ('١٢٣' -> '123')."""
        with pytest.raises(ValidationError):
            new_event_adapter.validate_python(won(amount))

    @pytest.mark.parametrize("currency", ["EUR", "USD", "CNY", "CHF", "JPY"])
    def test_iso_4217_codes_are_accepted(self, currency: str) -> None:
        assert new_event_adapter.validate_python(won("1.00", currency)).data.currency == currency

    @pytest.mark.parametrize("currency", ["XXY", "eur", "Eur", "EURO", "€", "", 978, None])
    def test_anything_but_an_iso_4217_code_is_refused(self, currency: Any) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(won("1.00", currency))
        [error] = errors_of(exc)
        assert error["loc"][-2:] == ("data", "currency")
        assert "ISO 4217" in error["msg"]

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [("1500", "JPY"), ("1500.00", "JPY"), ("1.25", "EUR"), ("1.125", "KWD"), ("0.5", "KWD")],
    )
    def test_an_amount_within_its_currency_s_minor_units_is_accepted(
        self, amount: str, currency: str
    ) -> None:
        event = new_event_adapter.validate_python(won(amount, currency))
        assert event.model_dump(mode="json")["data"]["amount"] == amount

    @pytest.mark.parametrize(
        ("amount", "currency", "reason"),
        [
            ("1500.5", "JPY", "JPY amounts have no decimals"),
            ("0.01", "KRW", "no decimals"),
            ("1.125", "EUR", "at most 2 decimals"),
            ("1.1255", "KWD", "at most 3 decimals"),
        ],
    )
    def test_more_decimals_than_the_currency_has_are_refused_naming_the_amount(
        self, amount: str, currency: str, reason: str
    ) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(won(amount, currency))
        [error] = errors_of(exc)
        assert error["loc"][-2:] == ("data", "amount")
        assert reason in error["msg"]

    def test_a_lead_s_estimated_value_follows_the_same_rule(self) -> None:
        with pytest.raises(ValidationError) as exc:
            LeadCreated(name="x", channel="online", estimated_value="5.5", currency="JPY")  # type: ignore[arg-type]
        assert errors_of(exc)[0]["loc"] == ("estimated_value",)

    def test_a_lead_value_needs_its_currency_and_vice_versa(self) -> None:
        with pytest.raises(ValidationError, match="go together"):
            LeadCreated(name="x", channel="online", estimated_value="5.00")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="go together"):
            LeadCreated(name="x", channel="online", currency="EUR")  # type: ignore[arg-type]


class TestOccurredAtIsInTheSystemsOneRange:
    """An event is stored only on a day every org's KPIs and goals answer for (shared.dates)."""

    @pytest.mark.parametrize(
        "moment",
        [
            "1970-01-01T12:00:00+00:00",
            "1970-01-02T00:00:00-12:00",
            "2099-12-31T09:59:59+00:00",
            "2099-12-31T23:59:59+14:00",
        ],
    )
    def test_the_ends_of_the_range_are_accepted(self, moment: str) -> None:
        new_event_adapter.validate_python({**EXAMPLES["deal.won"], "occurred_at": moment})

    @pytest.mark.parametrize(
        "moment",
        [
            "2100-01-01T00:00:00+00:00",  # was stored: KPIs refuse the day
            "2099-12-31T10:00:00+00:00",  # 2100-01-01 at UTC+14
            "1970-01-01T11:59:59+00:00",  # 1969-12-31 at UTC-12
            "1969-12-31T23:00:00+00:00",
        ],
    )
    def test_a_moment_on_a_day_outside_it_somewhere_is_refused(self, moment: str) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python({**EXAMPLES["deal.won"], "occurred_at": moment})
        assert [e["loc"][-1] for e in errors_of(exc)] == ["occurred_at"]

    def test_scoring_and_goals_use_the_same_range(self) -> None:
        from datetime import UTC

        from pydantic import TypeAdapter

        from shared.dates import END_MOMENT, FIRST_MOMENT, LAST_DAY, Day, Moment

        TypeAdapter(Day).validate_python(LAST_DAY.isoformat())
        with pytest.raises(ValidationError):
            TypeAdapter(Moment).validate_python(END_MOMENT.astimezone(UTC).isoformat())
        TypeAdapter(Moment).validate_python(FIRST_MOMENT.isoformat())


class TestDigitalEngagementAndConsent:
    def engagement(self, **data: Any) -> dict[str, Any]:
        example = EXAMPLES["engagement.tracked"]
        return {**example, "data": {**example["data"], **data}}

    def test_an_engagement_counts_one_by_default_and_no_seconds(self) -> None:
        event = new_event_adapter.validate_python(
            {**EXAMPLES["engagement.tracked"], "data": {"kind": "email_opened"}}
        )
        assert (event.data.count, event.data.seconds, event.data.url) == (1, 0, None)  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"kind": "fax"}, "kind"),
            ({"count": 0}, "count"),
            ({"count": "3"}, "count"),
            ({"count": True}, "count"),
            ({"seconds": -1}, "seconds"),
            ({"seconds": 1.5}, "seconds"),
            ({"url": ""}, "url"),
            ({"campaign": "x" * 201}, "campaign"),
        ],
    )
    def test_a_bad_engagement_names_its_field(self, data: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(self.engagement(**data))
        assert [e["loc"][-1] for e in errors_of(exc)] == [field]

    def test_a_consent_change_must_say_something(self) -> None:
        example = EXAMPLES["lead.consent_changed"]
        with pytest.raises(ValidationError, match="do_not_email, do_not_call or both"):
            new_event_adapter.validate_python({**example, "data": {}})
        one = new_event_adapter.validate_python({**example, "data": {"do_not_call": True}})
        assert (one.data.do_not_email, one.data.do_not_call) == (None, True)  # type: ignore[union-attr]

    def test_consent_flags_are_json_booleans(self) -> None:
        example = EXAMPLES["lead.consent_changed"]
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python({**example, "data": {"do_not_email": 1}})
        assert [e["loc"][-1] for e in errors_of(exc)] == ["do_not_email"]

    def test_a_won_deal_may_say_when_it_renews(self) -> None:
        event = new_event_adapter.validate_python(EXAMPLES["deal.won"])
        assert str(event.data.renewal_date) == "2027-11-30"  # type: ignore[union-attr]
        with pytest.raises(ValidationError):
            new_event_adapter.validate_python(
                {**EXAMPLES["deal.won"], "data": {**won("1.00")["data"], "renewal_date": "soon"}}
            )


# --------------------------------------------------------------------------------- strictness


class TestUnknownFieldsAreRejected:
    @pytest.mark.parametrize("event_type", sorted(CATALOGUE))
    def test_the_payload_model_forbids_an_unknown_field(self, event_type: str) -> None:
        data = {**EXAMPLES[event_type]["data"], "unexpected": "x"}
        with pytest.raises(ValidationError) as exc:
            PAYLOADS[event_type].model_validate(data)
        assert [(e["type"], e["loc"]) for e in errors_of(exc)] == [
            ("extra_forbidden", ("unexpected",))
        ]

    @pytest.mark.parametrize("event_type", sorted(CATALOGUE))
    def test_an_unknown_field_in_data_fails_the_whole_event(self, event_type: str) -> None:
        example = EXAMPLES[event_type]
        event = {**example, "data": {**example["data"], "unexpected": "x"}}
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(event)
        [error] = errors_of(exc)
        assert error["type"] == "extra_forbidden"
        assert error["loc"][-2:] == ("data", "unexpected")

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            ({"unexpected": "x"}, ("unexpected",)),
            ({"org_id": "org-1"}, ("org_id",)),  # the server sets it from the token
            ({"position": 5}, ("position",)),  # the server sets it
            ({"metadata": {"source": "app", "unexpected": "x"}}, ("metadata", "unexpected")),
        ],
        ids=["envelope", "org_id", "position", "metadata"],
    )
    def test_the_envelope_and_metadata_forbid_unknown_fields(
        self, change: dict[str, Any], loc: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python({**EXAMPLES["visit.logged"], **change})
        [error] = errors_of(exc)
        assert error["type"] == "extra_forbidden"
        assert error["loc"][-len(loc) :] == loc

    def test_a_payload_of_another_type_is_rejected(self) -> None:
        event = {**EXAMPLES["visit.logged"], "data": EXAMPLES["deal.won"]["data"]}
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(event)
        kinds = {(e["type"], e["loc"][-1]) for e in errors_of(exc)}
        assert ("extra_forbidden", "amount") in kinds
        assert ("missing", "mode") in kinds


class TestAttributesAreStringsOnly:
    def lead(self, attributes: Any) -> dict[str, Any]:
        example = EXAMPLES["lead.created"]
        return {**example, "data": {**example["data"], "attributes": attributes}}

    def test_string_values_are_accepted(self) -> None:
        attrs = {"city": "Leipzig", "occupation": "baker", "utm.source": "fair", "empty": ""}
        event = new_event_adapter.validate_python(self.lead(attrs))
        assert event.data.attributes == attrs

    @pytest.mark.parametrize(
        "value",
        [5, 1.5, True, None, ["Leipzig"], {"name": "Leipzig"}],
        ids=["int", "float", "bool", "null", "list", "object"],
    )
    def test_any_other_value_is_refused(self, value: Any) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(self.lead({"city": "Leipzig", "size": value}))
        [error] = errors_of(exc)
        assert error["type"] == "string_type"
        assert error["loc"][-3:] == ("data", "attributes", "size")

    @pytest.mark.parametrize("key", ["1city", "", "city name", "ciudad/ñ", "x" * 65])
    def test_keys_must_be_simple_names(self, key: str) -> None:
        with pytest.raises(ValidationError):
            new_event_adapter.validate_python(self.lead({key: "x"}))

    def test_a_value_may_be_500_characters_but_not_501(self) -> None:
        new_event_adapter.validate_python(self.lead({"note": "x" * 500}))
        with pytest.raises(ValidationError):
            new_event_adapter.validate_python(self.lead({"note": "x" * 501}))

    def test_there_may_be_50_attributes_but_not_51(self) -> None:
        new_event_adapter.validate_python(self.lead({f"k{i}": "v" for i in range(50)}))
        with pytest.raises(ValidationError):
            new_event_adapter.validate_python(self.lead({f"k{i}": "v" for i in range(51)}))


# --------------------------------------------------------------------------------- streams

STREAM_CASES = [
    pytest.param(t, kind, kind in STREAM_KINDS[t], id=f"{t} on {kind}-")
    for t in sorted(CATALOGUE)
    for kind in ALL_KINDS
]


class TestEachTypeBelongsToItsKindsOfStream:
    @pytest.mark.parametrize(("event_type", "kind", "allowed"), STREAM_CASES)
    def test_the_stream_kind_is_accepted_only_where_it_fits(
        self, event_type: str, kind: str, allowed: bool
    ) -> None:
        event = {**EXAMPLES[event_type], "stream": f"{kind}-X-1"}
        if allowed:
            assert new_event_adapter.validate_python(event).stream == f"{kind}-X-1"
            return
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python(event)
        [error] = errors_of(exc)
        assert error["loc"][-1] == "stream"
        assert all(f"{k}-" in error["msg"] for k in STREAM_KINDS[event_type]), error["msg"]

    @pytest.mark.parametrize(
        "stream",
        ["opportunity-1", "deal", "deal-", "Deal-1", "deal-D 88", "deal--1", "deal-" + "x" * 129],
    )
    def test_a_stream_name_that_is_not_kind_dash_id_is_refused(self, stream: str) -> None:
        with pytest.raises(ValidationError) as exc:
            new_event_adapter.validate_python({**EXAMPLES["visit.logged"], "stream": stream})
        assert [e["loc"][-1] for e in errors_of(exc)] == ["stream"]


# --------------------------------------------------------------------------------- upcasting

TYPE = "visit.logged"


@pytest.fixture
def register() -> Iterator[Any]:
    """Register upcasters for the test only; the registry is left exactly as found."""
    before = dict(UPCASTERS)
    added: list[tuple[str, int]] = []

    def add(event_type: str, version: int, fn: Any) -> None:
        assert (event_type, version) not in UPCASTERS
        UPCASTERS[(event_type, version)] = fn
        added.append((event_type, version))

    try:
        yield add
    finally:
        for key in added:
            UPCASTERS.pop(key, None)
        assert before == UPCASTERS


class TestUpcasting:
    def test_without_an_upcaster_the_data_is_returned_as_it_is(self) -> None:
        data = {"mode": "onsite"}
        assert upcast(TYPE, CURRENT_SCHEMA_VERSION, data) == (CURRENT_SCHEMA_VERSION, data)

    def test_old_versions_are_transformed_in_order_up_to_the_newest(self, register: Any) -> None:
        calls: list[int] = []

        def v1_to_v2(d: dict[str, Any]) -> dict[str, Any]:
            calls.append(1)
            return {**d, "steps": [*d.get("steps", []), "1->2"], "minutes": d["duration"]}

        def v2_to_v3(d: dict[str, Any]) -> dict[str, Any]:
            calls.append(2)
            rest = {k: v for k, v in d.items() if k != "duration"}
            return {**rest, "steps": [*d["steps"], "2->3"]}

        register(TYPE, 1, v1_to_v2)
        register(TYPE, 2, v2_to_v3)

        version, data = upcast(TYPE, 1, {"duration": 45})
        assert version == 3
        assert data == {"minutes": 45, "steps": ["1->2", "2->3"]}
        assert calls == [1, 2]

    def test_a_middle_version_gets_only_the_later_upcasters(self, register: Any) -> None:
        register(TYPE, 1, lambda d: {**d, "seen": [*d.get("seen", []), 1]})
        register(TYPE, 2, lambda d: {**d, "seen": [*d.get("seen", []), 2]})
        assert upcast(TYPE, 2, {}) == (3, {"seen": [2]})

    def test_upcasters_of_one_type_do_not_touch_another(self, register: Any) -> None:
        register(TYPE, 1, lambda d: {**d, "upcast": True})
        assert upcast("call.logged", 1, {"connected": True}) == (1, {"connected": True})

    def test_the_stored_data_is_not_mutated(self, register: Any) -> None:
        register(TYPE, 1, lambda d: {**d, "added": 1})
        stored = {"duration": 45}
        upcast(TYPE, 1, stored)
        assert stored == {"duration": 45}
