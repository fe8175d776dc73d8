"""The cohort reading of the funnel (`reports.cohort_funnel`) over the lead and deal states a
fold leaves: of September's leads, and of September's deals, how many ever reached each step.

    L1 anna  Sep 5  → qualified Oct 2 → D1 (ovens) Oct 3 → proposal Oct 20 → won Nov 5
    L2 anna  Sep 10 → qualified Sep 12 → D2 (mixers) Sep 15 → lost (competitor) Oct 1
    L3 ben   Sep 20 (south, online, acc-2 of tier A) → disqualified Sep 25
    L4 anna  Aug 31 23:30 Berlin → qualified Sep 2 → D4 (ovens) Sep 3, open
    L5 anna  Oct 1 00:30 Berlin (Sep 30 in UTC)
    D6 ben   Sep 8, without a lead, lost (price) Sep 9
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.scoring.answer.reports import cohort_funnel
from services.scoring.answer.sources import Cuts, Scope
from services.scoring.domain import Owner, OwnerKind
from tests.unit.scoring.helpers import ANNA, BEN, BERLIN, NORTH, SOUTH, Log, fold_log, local

SEP_1, SEP_30 = date(2026, 9, 1), date(2026, 9, 30)
ORG = Scope(Owner(OwnerKind.ORG))


def log() -> Log:
    log = Log()
    log.tier_changed("acc-2", local(2026, 8, 1, 9), "A")
    log.lead_created("L1", local(2026, 9, 5, 10), account="acc-1")
    log.lead_created("L2", local(2026, 9, 10, 10), account="acc-1")
    log.lead_created(
        "L3", local(2026, 9, 20, 10), channel="online", account="acc-2", rep=BEN, team=SOUTH
    )
    log.lead_created("L4", local(2026, 8, 31, 23, 30), account="acc-1")
    log.lead_created("L5", local(2026, 10, 1, 0, 30), account="acc-1")
    log.lead_qualified("L4", local(2026, 9, 2, 10))
    log.deal_opened("D4", local(2026, 9, 3, 10), lead="L4")
    log.lead_qualified("L2", local(2026, 9, 12, 10))
    log.deal_opened("D2", local(2026, 9, 15, 10), lead="L2", product_line="mixers")
    log.deal_opened("D6", local(2026, 9, 8, 10), rep=BEN, team=SOUTH, account="acc-2")
    log.deal_lost("D6", local(2026, 9, 9, 10), rep=BEN, team=SOUTH)
    log.lead_disqualified("L3", local(2026, 9, 25, 10), rep=BEN, team=SOUTH)
    log.deal_lost("D2", local(2026, 10, 1, 10), reason="competitor")
    log.lead_qualified("L1", local(2026, 10, 2, 10))
    log.deal_opened("D1", local(2026, 10, 3, 10), lead="L1")
    log.stage_changed("D1", local(2026, 10, 20, 10), "proposal")
    log.deal_won("D1", local(2026, 11, 5, 10))
    return log


def cohorts(scope: Scope = ORG, first: date = SEP_1, last: date = SEP_30) -> dict[str, Any]:
    book = fold_log(log()).book
    tiers = {key: account.tier for key, account in book.accounts.items()}
    return cohort_funnel(book.leads, book.deals.values(), tiers, scope, first, last, BERLIN)


def counts(steps: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(s["step"], s["count"]) for s in steps]


class TestTheLeadsCreatedInTheRange:
    def test_are_followed_to_every_step_they_ever_reached(self) -> None:
        body = cohorts()
        assert body["steps"] == [
            {"step": "leads", "count": 3},
            {
                "step": "opportunities",
                "count": 2,
                "conversion": {"value": 0.666667, "numerator": 2, "denominator": 3},
            },
            {
                "step": "deals_opened",
                "count": 2,
                "conversion": {"value": 1.0, "numerator": 2, "denominator": 2},
            },
            {
                "step": "stage:qualification",
                "count": 2,
                "conversion": {"value": 1.0, "numerator": 2, "denominator": 2},
            },
            {
                "step": "stage:proposal",
                "count": 1,
                "conversion": {"value": 0.5, "numerator": 1, "denominator": 2},
            },
            {
                "step": "won",
                "count": 1,
                "conversion": {"value": 1.0, "numerator": 1, "denominator": 1},
            },
            {
                "step": "lost",
                "count": 1,
                "conversion": {"value": 0.5, "numerator": 1, "denominator": 2},
                "reasons": [{"reason": "competitor", "count": 1}],
            },
        ]
        assert body["win_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}

    def test_are_the_days_of_the_org_s_timezone(self) -> None:
        """L4 (Aug 31, 23:30 in Berlin) is August's, L5 (Oct 1, 00:30) October's."""
        assert counts(cohorts(first=date(2026, 8, 31), last=date(2026, 8, 31))["steps"])[:3] == [
            ("leads", 1),
            ("opportunities", 1),
            ("deals_opened", 1),
        ]
        assert counts(cohorts(first=date(2026, 10, 1), last=date(2026, 10, 1))["steps"])[:3] == [
            ("leads", 1),
            ("opportunities", 0),
            ("deals_opened", 0),
        ]

    def test_are_a_rep_s_own_or_a_team_s(self) -> None:
        assert counts(cohorts(Scope(Owner(OwnerKind.REP, BEN)))["steps"]) == [
            ("leads", 1),
            ("opportunities", 0),
            ("deals_opened", 0),
            ("won", 0),
            ("lost", 0),
        ]
        assert counts(cohorts(Scope(Owner(OwnerKind.TEAM, NORTH)))["steps"])[:3] == [
            ("leads", 2),
            ("opportunities", 2),
            ("deals_opened", 2),
        ]
        manager_of_south = Scope(Owner(OwnerKind.REP, ANNA), team=SOUTH)
        assert counts(cohorts(manager_of_south)["steps"])[0] == ("leads", 0)

    def test_are_cut_by_channel_and_tier_and_their_deals_by_product_line(self) -> None:
        assert counts(cohorts(Scope(Owner(OwnerKind.ORG), cuts=Cuts(channel="online")))["steps"])[
            0
        ] == ("leads", 1)
        assert counts(cohorts(Scope(Owner(OwnerKind.ORG), cuts=Cuts(tier="A")))["steps"])[0] == (
            "leads",
            1,
        )
        mixers = cohorts(Scope(Owner(OwnerKind.ORG), cuts=Cuts(product_line="mixers")))
        assert counts(mixers["steps"]) == [
            ("leads", 3),
            ("opportunities", 2),
            ("deals_opened", 1),
            ("stage:qualification", 1),
            ("won", 0),
            ("lost", 1),
        ]


class TestTheDealsOpenedInTheRange:
    def test_are_followed_to_every_step_whatever_lead_they_came_from(self) -> None:
        deals = cohorts()["deals"]
        assert deals["steps"] == [
            {"step": "deals_opened", "count": 3},
            {
                "step": "stage:qualification",
                "count": 3,
                "conversion": {"value": 1.0, "numerator": 3, "denominator": 3},
            },
            {
                "step": "won",
                "count": 0,
                "conversion": {"value": 0.0, "numerator": 0, "denominator": 3},
            },
            {
                "step": "lost",
                "count": 2,
                "conversion": {"value": 0.666667, "numerator": 2, "denominator": 3},
                "reasons": [
                    {"reason": "competitor", "count": 1},
                    {"reason": "price", "count": 1},
                ],
            },
        ]
        assert deals["win_rate"] == {"value": 0.0, "numerator": 0, "denominator": 2}

    def test_belong_to_their_opener(self) -> None:
        assert counts(cohorts(Scope(Owner(OwnerKind.REP, BEN)))["deals"]["steps"]) == [
            ("deals_opened", 1),
            ("stage:qualification", 1),
            ("won", 0),
            ("lost", 1),
        ]

    def test_a_loss_folded_before_reasons_were_kept_is_unknown(self) -> None:
        book = fold_log(log()).book
        d6 = book.deals["deal-D6"]
        book.deals["deal-D6"] = d6._replace(lost_reason="")
        body = cohort_funnel(book.leads, book.deals.values(), {}, ORG, SEP_1, SEP_30, BERLIN)
        assert body["deals"]["steps"][-1]["reasons"] == [
            {"reason": "competitor", "count": 1},
            {"reason": "unknown", "count": 1},
        ]


class TestAnEmptyRange:
    def test_has_zeros_and_no_conversion_values(self) -> None:
        body = cohorts(first=date(2025, 1, 1), last=date(2025, 1, 31))
        assert counts(body["steps"]) == [
            ("leads", 0),
            ("opportunities", 0),
            ("deals_opened", 0),
            ("won", 0),
            ("lost", 0),
        ]
        assert body["steps"][1]["conversion"]["value"] is None
        assert body["win_rate"] == {"value": None, "numerator": 0, "denominator": 0}
        assert body["deals"]["win_rate"]["value"] is None
