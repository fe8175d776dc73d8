"""The feed's `about` filter, parsed without a database (the HTTP answers: tests/api/activity/
test_feed_about.py)."""

from __future__ import annotations

import pytest

from services.activity.domain import MAX_ABOUT, About, parse_about
from shared.errors import InvalidInput


class TestParseAbout:
    def test_without_about_there_is_no_filter(self):
        assert parse_about(None) is None

    def test_each_kind_s_ids_once_in_the_order_first_named(self):
        about = parse_about(" deal:D-2 ,account:acc-1,deal:D-1,,deal:D-2,lead:L-7,invoice:INV-3,")
        assert about == About(
            accounts=("acc-1",), deals=("D-2", "D-1"), leads=("L-7",), invoices=("INV-3",)
        )

    def test_an_id_may_hold_a_colon(self):
        assert parse_about("deal:crm:D-1") == About(deals=("crm:D-1",))

    def test_the_streams_are_those_of_accounts_deals_and_leads(self):
        about = About(accounts=("a",), deals=("d",), leads=("l",), invoices=("i",))
        assert about.streams() == ["account-a", "deal-d", "lead-l"]

    def test_every_bad_entry_is_named(self):
        with pytest.raises(InvalidInput) as caught:
            parse_about("Account:a,deal:,lead:L 1,invoice:ok")
        assert [(e.field, e.location, e.code) for e in caught.value.errors or []] == [
            ("about", "query", "unknown_kind"),
            ("about", "query", "missing"),
            ("about", "query", "string_pattern_mismatch"),
        ]

    @pytest.mark.parametrize("count", [MAX_ABOUT + 1, 10 * MAX_ABOUT])
    def test_more_entries_than_the_limit_are_refused(self, count):
        with pytest.raises(InvalidInput) as caught:
            parse_about(",".join(["lead:L"] * count))
        assert [e.code for e in caught.value.errors or []] == ["too_long"]
