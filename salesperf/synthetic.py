"""A deterministic synthetic sales quarter, as the event envelopes a client would POST to activity.

The shape of the quarter (defaults: 92 days from 2026-07-01, 3 teams of 4 reps, Europe/Berlin):

- Teams `team-north`, `team-south`, `team-west`, … of reps `rep-anna`, `rep-ben`, … (distinct first
  names; `rep-anna-2` once the names run out). Each rep has a pace (0.75–1.25×) and a skill that
  moves their effectiveness and win rate. Every event carries its rep's `rep_id` and `team_id`.
- Working hours: 08:00–18:00 local for ~93 % of events, the rest 06:30–08:00 and 18:00–21:00;
  weekends see ~3 % of a weekday's activity, Fridays a little less, Mondays a little more.
- Seasonal dip: the summer holidays, **1–21 August** (any year), run at half the usual activity.
- Accounts `acc-NNNN` (≈ 25 per rep × scale exist at the start) get their initial tier
  (A/B/C ≈ 20/30/50 %) as `account.tier_changed` on `account-acc-NNNN` at 06:00–06:30 of the first
  day (metadata source "import"); accounts won from new leads get theirs when their first deal
  opens. A few tiers change later (with `previous_tier`), and a few `contact.left` (some of them
  key contacts) happen on account streams.
- Leads `lead-L-YYYY-NNNNN` (≈ 1.1 per rep-day × scale): `lead.created` with a skewed channel mix
  (cold_visit, online, referral, inbound, exhibition, other), industry, company size, an estimated
  value (EUR; ~3 % USD) and attributes {campaign, city}; ~20 % are for existing accounts. Some
  35 % get `lead.qualified` 2–12 days later (referrals most often, cold visits least), ~25 %
  `lead.disqualified`, the rest go stale without an event.
- Visits (≈ 3.2 per rep-day × scale; onsite/online, ~60 % effective) and calls (≈ 6.4 per rep-day
  × scale; ~55 % connected) go to an open deal's, an open lead's or an account's stream, with
  `account_id` whenever the account is known.
- A qualified lead opens a deal `deal-D-NNNNN` the same day: `deal.opened` (stage "qualification",
  product line ovens/cooling/service/spare_parts, `lead_id` without the `lead-` prefix, ~3 % in
  USD), then `deal.stage_changed` qualification → proposal → negotiation (with `from_stage`), in
  ~30 % of negotiations a `deal.amount_changed`, and `deal.won` (≈ 45–50 % of closed deals) or
  `deal.lost` (with a reason) at any stage; deals whose next step falls after the quarter stay open.
- After a win: `invoice.issued` (`INV-YYYY-NNNNN`, due in 14 or 30 days) on the account stream 1–3
  days later, then one payment or two partial ones (`payment.received`, source "import"); ~8 %
  are never paid and late ones fall after the quarter. Most new customers (85 %) get a follow-up
  visit or call within 72 hours of their first win; ~30 % of first wins bring a second deal on the
  same account (no lead) a few weeks later, usually won.
- ~0.5 % of events are `event.voided` corrections of a visit or call, minutes later, in the same
  stream; never a void of a void, never the same event twice.
- Metadata source is "app", except imports (initial tiers, payments) and "crm:hubspot" for about
  half of the online and inbound leads and a tenth of the new accounts.

At scale 1.0 that is ≈ 10,000 events; `scale` multiplies the activities per rep-day (and the
starting accounts), so the total grows linearly with it. Events come in append order: sorted by
`occurred_at` (ties by creation), each stream in causal order. The output depends only on the
arguments: `random.Random(seed)` draws everything and `event_id`s are uuid5 of a fixed namespace
and the arguments plus a counter, so posting the same quarter twice stores nothing new.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast
from uuid import UUID
from zoneinfo import ZoneInfo

__all__ = [
    "CHANNELS",
    "DIP",
    "NAMESPACE",
    "PRODUCT_LINES",
    "STAGES",
    "generate",
    "in_dip",
    "iter_events",
]

Event = dict[str, Any]

NAMESPACE = UUID("3b1f7c52-8d0e-5a47-9c3e-5e1d2a0f6b84")
"""The uuid5 namespace of every synthetic event_id."""

DIP = ((8, 1), (8, 21))
"""The seasonal dip (summer holidays), as (month, day) bounds, inclusive, in every year."""

STAGES = ("qualification", "proposal", "negotiation")
CHANNELS = ("referral", "cold_visit", "exhibition", "online", "inbound", "other")
PRODUCT_LINES = ("ovens", "cooling", "service", "spare_parts")

TEAM_NAMES = (
    "north",
    "south",
    "west",
    "east",
    "central",
    "coast",
    "alps",
    "rhine",
    "elbe",
    "danube",
    "baltic",
    "harz",
)
REP_NAMES = (
    "anna",
    "ben",
    "clara",
    "david",
    "elena",
    "felix",
    "greta",
    "hannah",
    "jonas",
    "julia",
    "karl",
    "lena",
    "lukas",
    "maria",
    "max",
    "mia",
    "nina",
    "oliver",
    "paula",
    "paul",
    "sophie",
    "tim",
    "emma",
    "leon",
    "lara",
    "noah",
    "sarah",
    "tom",
    "vera",
    "jan",
    "eva",
    "moritz",
    "ida",
    "finn",
    "marie",
    "erik",
    "frieda",
    "henry",
    "johanna",
    "kai",
    "lisa",
    "matteo",
    "nora",
    "oskar",
    "pia",
    "robert",
    "svenja",
    "theo",
    "ute",
    "vincent",
    "wiebke",
    "yusuf",
    "zoe",
    "ali",
    "bianca",
    "carlos",
    "dilara",
    "emil",
    "fatma",
    "georg",
    "helena",
    "igor",
    "katrin",
)
CITIES: dict[str, tuple[str, ...]] = {
    "north": ("Hamburg", "Bremen", "Kiel", "Hannover", "Lübeck", "Rostock", "Oldenburg"),
    "south": ("München", "Stuttgart", "Nürnberg", "Augsburg", "Freiburg", "Regensburg", "Ulm"),
    "west": ("Köln", "Düsseldorf", "Dortmund", "Essen", "Aachen", "Bonn", "Münster"),
    "east": ("Berlin", "Leipzig", "Dresden", "Potsdam", "Erfurt", "Magdeburg", "Chemnitz"),
    "central": ("Frankfurt", "Kassel", "Würzburg", "Mainz", "Wiesbaden", "Gießen", "Fulda"),
}
OTHER_CITIES = (
    "Mannheim",
    "Karlsruhe",
    "Heidelberg",
    "Saarbrücken",
    "Trier",
    "Koblenz",
    "Bielefeld",
    "Osnabrück",
    "Göttingen",
    "Jena",
    "Halle",
    "Bamberg",
)
SURNAMES = (
    "Schmidt",
    "Müller",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Braun",
    "Zimmermann",
    "Krüger",
    "Hartmann",
    "Lange",
    "Werner",
    "Krause",
    "Lehmann",
    "Köhler",
    "Maier",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Scholz",
    "Möller",
)
PLACE_NAMES = (
    "Adler",
    "Krone",
    "zur Post",
    "Sonne",
    "Lamm",
    "am See",
    "Bellevue",
    "Linde",
    "Hirsch",
    "Stern",
    "am Markt",
    "Rose",
)
ITALIAN = ("Da Mario", "Bella Italia", "La Piazza", "Il Gabbiano", "Toscana", "Vesuvio")
CONTACT_FIRST = (
    "Jana",
    "Stefan",
    "Petra",
    "Michael",
    "Sabine",
    "Thomas",
    "Andrea",
    "Markus",
    "Claudia",
    "Frank",
    "Birgit",
    "Jörg",
    "Anke",
    "Uwe",
    "Katja",
    "Dirk",
)
CONTACT_ROLES = (
    "Head of purchasing",
    "Owner",
    "Kitchen manager",
    "Managing director",
    "Facility manager",
    "Head chef",
    "Procurement",
)


def _table(*weighted: tuple[Any, int]) -> tuple[Any, ...]:
    """A lookup table: `t[int(random() * len(t))]` draws each value with its weight."""
    return tuple(value for value, weight in weighted for _ in range(weight))


CHANNEL_TABLE = _table(
    ("cold_visit", 26),
    ("online", 20),
    ("referral", 17),
    ("inbound", 15),
    ("exhibition", 12),
    ("other", 10),
)
QUALIFY_P = {
    "referral": 0.6,
    "cold_visit": 0.26,
    "exhibition": 0.45,
    "online": 0.34,
    "inbound": 0.47,
    "other": 0.34,
}
DISQUALIFY_P = 0.25
CAMPAIGNS = {
    "exhibition": "fair-{y}-internorga",
    "online": "web-{y}-q{q}",
    "inbound": "newsletter-{y}-{m:02d}",
    "referral": "referral-program",
    "cold_visit": "territory-{y}-q{q}",
    "other": "misc",
}
INDUSTRY_TABLE = _table(
    ("bakery", 22),
    ("restaurant", 24),
    ("hospitality", 16),
    ("catering", 14),
    ("food retail", 12),
    ("butchery", 7),
    ("healthcare", 5),
)
SIZE_TABLE = _table(("1-9", 30), ("10-49", 38), ("50-249", 20), ("250-999", 9), ("1000+", 3))
PRODUCT_TABLE = _table(("ovens", 35), ("cooling", 30), ("service", 20), ("spare_parts", 15))
REPEAT_PRODUCT_TABLE = _table(("service", 40), ("spare_parts", 35), ("cooling", 15), ("ovens", 10))
# Euro cents, (low, high): the estimated value of a lead interested in the line.
PRODUCT_VALUE = {
    "ovens": (900_000, 6_500_000),
    "cooling": (500_000, 4_200_000),
    "service": (120_000, 1_400_000),
    "spare_parts": (30_000, 550_000),
}
TIER_TABLE = _table(("A", 20), ("B", 30), ("C", 50))
TIER_MOVES = {"A": ("B",), "B": ("A", "C"), "C": ("B",)}
DISQUALIFY_TABLE = _table(
    ("no_budget", 30),
    ("no_need", 25),
    ("not_reachable", 20),
    ("competitor", 12),
    ("duplicate", 6),
    ("other", 7),
)
LOSS_TABLE = _table(
    ("price", 30),
    ("competitor", 25),
    ("no_budget", 15),
    ("no_decision", 12),
    ("timing", 10),
    ("product_fit", 5),
    ("other", 3),
)
COMPETITORS = ("OvenCo", "FrostLine", "Gastrotec", "KüchenPro")
AMOUNT_REASONS_DOWN = ("volume discount", "price negotiation", "reduced scope")
AMOUNT_REASONS_UP = ("added service contract", "second unit", "extended warranty")
SIGNAL_SETS: tuple[tuple[str, ...], ...] = (
    (),
    ("asked_for_price",),
    ("met_decision_maker",),
    ("requested_demo",),
    ("asked_for_price", "met_decision_maker"),
    ("discussed_timeline",),
    ("requested_quote",),
    ("asked_for_references",),
    ("asked_for_price", "discussed_timeline"),
    ("met_decision_maker", "requested_quote", "discussed_timeline"),
)
VOID_REASONS = (
    "logged on the wrong account",
    "duplicate entry",
    "wrong date",
    "entered by mistake",
    "logged for the wrong lead",
)

LEADS_PER_DAY = 1.1
VISITS_PER_DAY = 3.2
CALLS_PER_DAY = 6.4
ACCOUNTS_PER_REP = 25
CONTACT_LEFT_PER_DAY = 0.035
TIER_CHANGES_PER_DAY = 0.045
VOID_P = 0.0068  # per visit or call: ~0.5 % of all events
USD_P = 0.03
DIP_FACTOR = 0.5
WEEKDAY_FACTOR = (1.06, 1.04, 1.0, 1.0, 0.85, 0.035, 0.02)  # Monday … Sunday

_HHMM = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60))
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_NEVER = 1 << 30


def _fast_sha1() -> Callable[[bytes], Any]:
    """CPython's own SHA-1: its copies are ~3x cheaper than OpenSSL's for these tiny inputs."""
    try:
        return cast("Callable[[bytes], Any]", importlib.import_module("_sha1").sha1)
    except ImportError:  # pragma: no cover - another Python
        return hashlib.sha1


_sha1 = _fast_sha1()


def in_dip(day: date) -> bool:
    """Whether `day` lies in the seasonal dip (1–21 August)."""
    return DIP[0] <= (day.month, day.day) <= DIP[1]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@functools.cache
def _tails(offset: str) -> tuple[str, ...]:
    """Every second of a minute as ":SS+HH:MM", for one UTC offset."""
    return tuple(f":{s:02d}{offset}" for s in range(60))


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _open(pool: list[Any], r: Callable[[], float], day: int) -> Any:
    """A random entity of `pool` still open on `day`; closed ones are dropped on the way."""
    while pool:
        i = int(r() * len(pool))
        item = pool[i]
        if item.end > day:
            return item
        pool[i] = pool[-1]
        pool.pop()
    return None


def _visit(r: Callable[[], float], account_id: str | None, effective: bool) -> dict[str, Any]:
    if r() < 0.7:
        mode, minutes = "onsite", 20 + int(r() * 100)
    else:
        mode, minutes = "online", 10 + int(r() * 50)
    signals = [*SIGNAL_SETS[int(r() * len(SIGNAL_SETS))]] if effective else []
    if account_id is None:
        return {
            "mode": mode,
            "effective": effective,
            "duration_minutes": minutes,
            "buying_signals": signals,
        }
    return {
        "mode": mode,
        "effective": effective,
        "duration_minutes": minutes,
        "account_id": account_id,
        "buying_signals": signals,
    }


def _call(r: Callable[[], float], account_id: str | None, reached: bool) -> dict[str, Any]:
    if reached and r() < 0.92:  # reached ≈ 60 % of calls; × 0.92 ≈ 55 % connected
        connected, seconds = True, 45 + int(r() * 900)
        signals = [*SIGNAL_SETS[int(r() * len(SIGNAL_SETS))]] if r() < 0.4 else []
    else:
        connected, seconds, signals = False, int(r() * 30), []
    direction = "outbound" if r() < 0.85 else "inbound"
    if account_id is None:
        return {
            "connected": connected,
            "duration_seconds": seconds,
            "direction": direction,
            "buying_signals": signals,
        }
    return {
        "connected": connected,
        "duration_seconds": seconds,
        "direction": direction,
        "account_id": account_id,
        "buying_signals": signals,
    }


class _Rep:
    __slots__ = ("accounts", "cities", "deals", "effect", "id", "leads", "pace", "team", "win")

    def __init__(self, rep_id: str, team: str, cities: Sequence[str], pace: float, skill: float):
        self.id = rep_id
        self.team = team
        self.cities = cities
        self.pace = pace
        self.effect = 0.6 + skill
        self.win = 0.47 + skill
        self.leads: list[_Lead] = []
        self.deals: list[_Deal] = []
        self.accounts: list[_Account] = []


class _Account:
    __slots__ = ("currency", "end", "id", "name", "new", "rep", "stream", "tier", "wins")

    def __init__(self, account_id: str, rep: _Rep, name: str, tier: str, *, new: bool):
        self.id = account_id
        self.stream = f"account-{account_id}"
        self.rep = rep
        self.name = name
        self.tier = tier
        self.new = new
        self.wins = 0
        self.currency = "EUR"
        self.end = _NEVER


class _Lead:
    __slots__ = ("account", "cents", "currency", "end", "id", "name", "product", "rep", "stream")

    def __init__(
        self,
        lead_id: str,
        rep: _Rep,
        name: str,
        account: _Account | None,
        product: str,
        cents: int,
        currency: str,
    ):
        self.id = lead_id
        self.stream = f"lead-{lead_id}"
        self.rep = rep
        self.name = name
        self.account = account
        self.product = product
        self.cents = cents
        self.currency = currency
        self.end = _NEVER


class _Deal:
    __slots__ = ("account", "cents", "currency", "end", "id", "rep", "stream")

    def __init__(self, deal_id: str, rep: _Rep, account: _Account, cents: int, currency: str):
        self.id = deal_id
        self.stream = f"deal-{deal_id}"
        self.rep = rep
        self.account = account
        self.cents = cents
        self.currency = currency
        self.end = _NEVER


Action = tuple[Callable[..., None], tuple[Any, ...]]


class _Quarter:
    """The simulation: day by day, scheduled lifecycle steps first, then each rep's activities."""

    def __init__(
        self,
        *,
        seed: int,
        start: date,
        days: int,
        teams: int,
        reps_per_team: int,
        timezone: str,
        scale: float,
    ) -> None:
        if days < 1 or teams < 1 or reps_per_team < 1:
            raise ValueError("days, teams and reps_per_team must be at least 1")
        if not scale > 0:
            raise ValueError("scale must be positive")
        zone = ZoneInfo(timezone)
        self.rng = random.Random(seed)
        self.r = self.rng.random
        self.start = start
        self.days = days
        self.scale = scale
        self.year = start.year
        name = f"{seed}|{start.isoformat()}|{days}|{teams}|{reps_per_team}|{timezone}|{scale!r}|"
        self.id_copy = _sha1(NAMESPACE.bytes + name.encode()).copy
        self.counter = 0
        self.lead_no = self.deal_no = self.account_no = self.invoice_no = self.contact_no = 0
        self.currency_no = self.usd_slot = 0
        self.agenda: dict[int, list[Action]] = {}
        self.born: list[tuple[list[Any], Any]] = []
        self.today: list[tuple[int, int, Event]] = []
        # Per day: the date, weekday, activity factor and UTC offset by hour.
        self.dates = [start + timedelta(days=d) for d in range(days + 60)]
        self.weekday = [day.weekday() for day in self.dates]
        self.factor = [
            WEEKDAY_FACTOR[day.weekday()] * (DIP_FACTOR if in_dip(day) else 1.0) * scale
            for day in self.dates[:days]
        ]
        self.offsets = [
            [_offset(datetime(day.year, day.month, day.day, h, 30, tzinfo=zone)) for h in range(24)]
            for day in self.dates[:days]
        ]
        # The day being simulated: "YYYY-MM-DDTHH:MM" by minute, ":SS+HH:MM" by hour and second.
        self.minutes: list[str] = []
        self.tails: list[tuple[str, ...]] = []
        self.campaigns: dict[str, str] = {}
        self.reps: list[_Rep] = []
        for t in range(teams):
            base = TEAM_NAMES[t % len(TEAM_NAMES)]
            team = f"team-{base}" + (f"-{t // len(TEAM_NAMES) + 1}" if t >= len(TEAM_NAMES) else "")
            cities = CITIES.get(base, OTHER_CITIES)
            for j in range(reps_per_team):
                k = t * reps_per_team + j
                first = REP_NAMES[k % len(REP_NAMES)]
                rep_id = f"rep-{first}" + (
                    f"-{k // len(REP_NAMES) + 1}" if k >= len(REP_NAMES) else ""
                )
                pace = 0.75 + 0.5 * self.r()
                skill = 0.2 * self.r() - 0.1
                self.reps.append(_Rep(rep_id, team, cities, pace, skill))
        per_rep = max(3, round(ACCOUNTS_PER_REP * scale))
        for rep in self.reps:
            for _ in range(per_rep):
                tier = TIER_TABLE[int(self.r() * len(TIER_TABLE))]
                rep.accounts.append(
                    _Account(self._account_id(), rep, self._company()[1], tier, new=False)
                )

    # --- helpers ---------------------------------------------------------------------------

    def _uuid(self, n: int) -> str:
        h = self.id_copy()
        h.update(b"%d" % n)
        s = h.hexdigest()
        return f"{s[:8]}-{s[8:12]}-5{s[13:16]}-{_VARIANT[s[16]]}{s[17:20]}-{s[20:32]}"

    def _emit(
        self,
        sec: int,
        type_: str,
        stream: str,
        rep: _Rep,
        data: dict[str, Any],
        source: str = "app",
    ) -> Event:
        """An event of the day being simulated, at `sec` seconds after local midnight."""
        n = self.counter
        self.counter = n + 1
        event = {
            "event_id": self._uuid(n),
            "type": type_,
            "stream": stream,
            "rep_id": rep.id,
            "team_id": rep.team,
            "occurred_at": self.minutes[sec // 60] + self.tails[sec // 3600][sec % 60],
            "data": data,
            "metadata": {"source": source},
        }
        self.today.append((sec, n, event))
        return event

    def _at(self, day: int, fn: Callable[..., None], *args: Any) -> None:
        if day < self.days:
            self.agenda.setdefault(day, []).append((fn, args))

    def _workday(self, day: int) -> int:
        """`day`, or the Monday after it if it falls on a weekend (now and then not)."""
        wd = self.weekday[day] if day < len(self.weekday) else 0
        if wd >= 5 and self.r() >= 0.04:
            return day + 7 - wd
        return day

    def _sec(self) -> int:
        """A time of day in seconds: working hours mostly, early morning or evening sometimes."""
        return 28_800 + int(self.r() * 36_000) if self.r() < 0.93 else self._odd_sec()

    def _odd_sec(self) -> int:
        """Before or after working hours: 06:30–08:00 or 18:00–21:00."""
        if self.r() < 0.4:
            return 23_400 + int(self.r() * 5_400)
        return 64_800 + int(self.r() * 10_800)

    def _core_sec(self) -> int:
        """A time in the core working day, 08:00–17:00."""
        return 28_800 + int(self.r() * 32_400)

    def _pick(self, table: Sequence[Any]) -> Any:
        return table[int(self.r() * len(table))]

    def _account_id(self) -> str:
        self.account_no += 1
        return f"acc-{self.account_no:04d}"

    def _company(self) -> tuple[str, str]:
        """(industry, company name)."""
        industry: str = self._pick(INDUSTRY_TABLE)
        surname = self._pick(SURNAMES)
        if industry == "bakery":
            name = f"{self._pick(('Bäckerei', 'Backhaus', 'Konditorei'))} {surname}"
        elif industry == "restaurant":
            name = (
                f"Restaurant {self._pick(ITALIAN)}"
                if self.r() < 0.3
                else f"Gasthaus {self._pick(PLACE_NAMES)}"
            )
        elif industry == "hospitality":
            name = f"Hotel {self._pick(PLACE_NAMES)}"
        elif industry == "catering":
            name = f"{surname} Catering GmbH" if self.r() < 0.6 else f"Kantine {surname}"
        elif industry == "food retail":
            name = f"Feinkost {surname}" if self.r() < 0.5 else f"Markt {surname} KG"
        elif industry == "butchery":
            name = f"Metzgerei {surname}"
        else:
            name = f"Seniorenheim {self._pick(PLACE_NAMES)}"
        if self.r() < 0.5 and not name.endswith(("GmbH", "KG")):
            name += " GmbH"
        return industry, name

    def _cents(self, product: str) -> int:
        low, high = PRODUCT_VALUE[product]
        return (low + int(self.r() * (high - low))) // 5_000 * 5_000  # whole 50s

    # --- the day -----------------------------------------------------------------------------

    def day(self, d: int) -> list[Event]:
        """Simulate day `d`; its events in append order.

        The cyclic garbage collector is paused meanwhile: a day allocates only acyclic dicts,
        lists and strings, and the collector's passes over them would cost a third of the time.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._day(d)
        finally:
            if paused:
                gc.enable()

    def _day(self, d: int) -> list[Event]:
        self.today = []
        prefix = f"{self.dates[d].isoformat()}T"
        self.minutes = [prefix + hhmm for hhmm in _HHMM]
        day = self.dates[d]
        self.campaigns = {
            channel: pattern.format(y=day.year, q=(day.month - 1) // 3 + 1, m=day.month)
            for channel, pattern in CAMPAIGNS.items()
        }
        self.tails = [_tails(offset) for offset in self.offsets[d]]
        if d == 0:
            for rep in self.reps:
                for acc in rep.accounts:
                    sec = 21_600 + int(self.r() * 1_800)
                    self._emit(
                        sec, "account.tier_changed", acc.stream, rep, {"tier": acc.tier}, "import"
                    )
        while actions := self.agenda.pop(d, None):
            for fn, args in actions:
                fn(d, *args)
        factor = self.factor[d]
        r = self.r
        for rep in self.reps:
            rate = factor * rep.pace
            for _ in range(int(LEADS_PER_DAY * rate * (0.5 + r()) + r())):
                self._new_lead(rep, d)
            visits = int(VISITS_PER_DAY * rate * (0.5 + r()) + r())
            calls = int(CALLS_PER_DAY * rate * (0.5 + r()) + r())
            self._activities(rep, d, visits, calls)
            for _ in range(int(CONTACT_LEFT_PER_DAY * rate + r())):
                self._contact_left(rep, d)
            for _ in range(int(TIER_CHANGES_PER_DAY * rate + r())):
                self._tier_change(rep, d)
        for pool, item in self.born:
            pool.append(item)
        self.born = []
        self.today.sort()  # by (time, creation); the pair is unique, events are never compared
        return [event for _, _, event in self.today]

    # --- activities --------------------------------------------------------------------------

    def _activities(self, rep: _Rep, d: int, visits: int, calls: int) -> None:
        """A rep's visits and calls of the day (the hot path: most events are these)."""
        r = self.r
        today = self.today
        minutes, tails, id_copy = self.minutes, self.tails, self.id_copy
        deals, leads, accounts = rep.deals, rep.leads, rep.accounts
        rep_id, team, effect = rep.id, rep.team, rep.effect
        item: _Deal | _Lead | None
        account: _Account | None
        n = self.counter
        for i in range(visits + calls):
            u = r()
            item = None
            if u < 0.38:
                item = _open(deals, r, d)
            elif u < 0.75:
                item = _open(leads, r, d)
            if item is None:
                account = accounts[int(r() * len(accounts))]
                stream = account.stream
            else:
                account, stream = item.account, item.stream
            sec = 28_800 + int(r() * 36_000) if r() < 0.93 else self._odd_sec()
            account_id = account.id if account is not None else None
            if i < visits:
                type_, data = "visit.logged", _visit(r, account_id, r() < effect)
            else:
                type_, data = "call.logged", _call(r, account_id, r() < effect)
            h = id_copy()
            h.update(b"%d" % n)
            x = h.hexdigest()
            event_id = f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"
            today.append(
                (
                    sec,
                    n,
                    {
                        "event_id": event_id,
                        "type": type_,
                        "stream": stream,
                        "rep_id": rep_id,
                        "team_id": team,
                        "occurred_at": minutes[sec // 60] + tails[sec // 3600][sec % 60],
                        "data": data,
                        "metadata": {"source": "app"},
                    },
                )
            )
            n += 1
            if r() < VOID_P:  # a correction, minutes later, in the same stream
                later = sec + 300 + int(r() * 5_400)
                if later < 86_400:
                    self.counter = n
                    data = {"voided_event_id": event_id, "reason": self._pick(VOID_REASONS)}
                    self._emit(later, "event.voided", stream, rep, data)
                    n = self.counter
        self.counter = n

    def _contact_left(self, rep: _Rep, d: int) -> None:
        acc = rep.accounts[int(self.r() * len(rep.accounts))]
        self.contact_no += 1
        data = {
            "contact_id": f"c-{self.contact_no}",
            "name": f"{self._pick(CONTACT_FIRST)} {self._pick(SURNAMES)}",
            "role": self._pick(CONTACT_ROLES),
            "key_contact": self.r() < 0.35,
        }
        self._emit(self._sec(), "contact.left", acc.stream, rep, data)

    def _tier_change(self, rep: _Rep, d: int) -> None:
        acc = rep.accounts[int(self.r() * len(rep.accounts))]
        tier: str = self._pick(TIER_MOVES[acc.tier])
        data = {"tier": tier, "previous_tier": acc.tier}
        acc.tier = tier
        self._emit(self._sec(), "account.tier_changed", acc.stream, rep, data)

    # --- leads -------------------------------------------------------------------------------

    def _new_lead(self, rep: _Rep, d: int) -> None:
        r = self.r
        self.lead_no += 1
        lead_id = f"L-{self.year}-{self.lead_no:05d}"
        channel: str = CHANNEL_TABLE[int(r() * len(CHANNEL_TABLE))]
        # The outcome is drawn first: leads that will qualify take their currency from a
        # stratified draw (one in every 33 is in USD), so ~3 % of deals are, even in small runs.
        u = r()
        p = QUALIFY_P[channel]
        if u < p:
            end, then = self._workday(d + 2 + int(r() * 11)), self._qualify
            currency = self._deal_currency()
        else:
            if u < p + DISQUALIFY_P:
                end, then = self._workday(d + 1 + int(r() * 20)), self._disqualify
            else:  # goes stale: no more work after `end`, and no event
                end, then = d + 5 + int(r() * 30), None
            currency = "USD" if r() < USD_P else "EUR"
        account: _Account | None = None
        if r() < 0.2:
            account = rep.accounts[int(r() * len(rep.accounts))]
            industry, name = self._company()[0], account.name
        else:
            industry, name = self._company()
        product: str = PRODUCT_TABLE[int(r() * len(PRODUCT_TABLE))]
        cents = self._cents(product)
        lead = _Lead(lead_id, rep, name, account, product, cents, currency)
        lead.end = end
        data: dict[str, Any] = {"name": name, "channel": channel}
        if account is not None:
            data["account_id"] = account.id
        data["industry"] = industry
        data["company_size"] = SIZE_TABLE[int(r() * len(SIZE_TABLE))]
        if r() < 0.85:
            data["estimated_value"] = _money(cents)
            data["currency"] = currency
        data["attributes"] = {
            "campaign": self.campaigns[channel],
            "city": rep.cities[int(r() * len(rep.cities))],
        }
        source = "crm:hubspot" if channel in ("online", "inbound") and r() < 0.5 else "app"
        self._emit(self._sec(), "lead.created", lead.stream, rep, data, source)
        if then is not None:
            self._at(end, then, lead)
        self.born.append((rep.leads, lead))

    def _deal_currency(self) -> str:
        """USD for one random deal in every block of 33, else EUR."""
        slot = self.currency_no % 33
        self.currency_no += 1
        if slot == 0:
            self.usd_slot = int(self.r() * 33)
        return "USD" if slot == self.usd_slot else "EUR"

    def _qualify(self, d: int, lead: _Lead) -> None:
        r = self.r
        rep = lead.rep
        sec = self._core_sec()
        cents = lead.cents * (85 + int(r() * 30)) // 100 // 5_000 * 5_000 or lead.cents
        data: dict[str, Any] = {"estimated_value": _money(cents), "currency": lead.currency}
        if r() < 0.3:
            data["note"] = self._pick(
                (
                    "Budget confirmed",
                    "Decision maker met",
                    "Needs replacement this year",
                    "Tender announced",
                )
            )
        self._emit(sec, "lead.qualified", lead.stream, rep, data)
        account = lead.account
        if account is None:
            account = self._new_account(rep, d, sec + 60 + int(r() * 600), lead.name)
        win = rep.win + (0.1 if not account.new else 0.0)
        self._open_deal(
            rep,
            d,
            sec + 900 + int(r() * 2_700),
            account,
            lead.product,
            cents,
            lead.currency,
            lead.id,
            win,
            fast=False,
        )

    def _disqualify(self, d: int, lead: _Lead) -> None:
        data: dict[str, Any] = {"reason": self._pick(DISQUALIFY_TABLE)}
        if data["reason"] == "other":
            data["note"] = "Closing the business"
        self._emit(self._core_sec(), "lead.disqualified", lead.stream, lead.rep, data)

    def _new_account(self, rep: _Rep, d: int, sec: int, name: str) -> _Account:
        acc = _Account(self._account_id(), rep, name, self._pick(TIER_TABLE), new=True)
        source = "crm:hubspot" if self.r() < 0.1 else "app"
        self._emit(sec, "account.tier_changed", acc.stream, rep, {"tier": acc.tier}, source)
        self.born.append((rep.accounts, acc))
        return acc

    # --- deals -------------------------------------------------------------------------------

    def _open_deal(
        self,
        rep: _Rep,
        d: int,
        sec: int,
        account: _Account,
        product: str,
        cents: int,
        currency: str,
        lead_id: str | None,
        win: float,
        *,
        fast: bool,
    ) -> None:
        r = self.r
        self.deal_no += 1
        cents = max(5_000, cents * (80 + int(r() * 45)) // 100 // 1_000 * 1_000)
        deal = _Deal(f"D-{self.deal_no:05d}", rep, account, cents, currency)
        account.currency = currency
        data: dict[str, Any] = {
            "amount": _money(cents),
            "currency": currency,
            "product_line": product,
            "account_id": account.id,
            "stage": STAGES[0],
        }
        if lead_id is not None:
            data["lead_id"] = lead_id
        data["expected_close"] = (self.dates[d] + timedelta(days=20 + int(r() * 55))).isoformat()
        self._emit(min(sec, 75_000), "deal.opened", deal.stream, rep, data)
        self.born.append((rep.deals, deal))

        span = 0.5 if fast else 1.0
        d1 = self._workday(d + 2 + int(r() * 9 * span))
        d2 = self._workday(d1 + 3 + int(r() * 10 * span))
        d3 = self._workday(d2 + 2 + int(r() * 10 * span))
        won = r() < win
        if won:
            last, end = 2, d3
        else:  # lost after qualification, proposal or negotiation
            u = r()
            last, end = (0, d1) if u < 0.3 else (1, d2) if u < 0.62 else (2, d3)
        deal.end = end
        if last >= 1:
            self._at(d1, self._stage, deal, 1)
        if last >= 2:
            self._at(d2, self._stage, deal, 2)
            if d3 - d2 >= 2 and r() < 0.3:  # renegotiated between negotiation and close
                between = d2 + 1 + int(r() * (d3 - d2 - 1))
                workday = self._workday(between)
                self._at(workday if workday < d3 else between, self._amount_changed, deal)
        self._at(end, self._won if won else self._lost, deal)

    def _stage(self, d: int, deal: _Deal, to: int) -> None:
        data = {"to_stage": STAGES[to], "from_stage": STAGES[to - 1]}
        self._emit(self._core_sec(), "deal.stage_changed", deal.stream, deal.rep, data)

    def _amount_changed(self, d: int, deal: _Deal) -> None:
        r = self.r
        if r() < 0.75:
            cents = deal.cents * (88 + int(r() * 10)) // 100
            reason = self._pick(AMOUNT_REASONS_DOWN)
        else:
            cents = deal.cents * (105 + int(r() * 20)) // 100
            reason = self._pick(AMOUNT_REASONS_UP)
        deal.cents = max(1_000, cents // 1_000 * 1_000)
        data = {"amount": _money(deal.cents), "currency": deal.currency, "reason": reason}
        self._emit(self._core_sec(), "deal.amount_changed", deal.stream, deal.rep, data)

    def _won(self, d: int, deal: _Deal) -> None:
        r = self.r
        rep, account = deal.rep, deal.account
        sec = self._core_sec()
        data = {"amount": _money(deal.cents), "currency": deal.currency}
        self._emit(sec, "deal.won", deal.stream, rep, data)
        self._at(self._workday(d + 1 + int(r() * 3)), self._invoice, deal)
        first = account.wins == 0
        account.wins += 1
        if not first:
            return
        if account.new and r() < 0.85:
            self._schedule_follow_up(d, sec, account)
        if r() < 0.3:
            self._at(self._workday(d + 7 + int(r() * 25)), self._repeat_deal, account)

    def _lost(self, d: int, deal: _Deal) -> None:
        data: dict[str, Any] = {"reason": self._pick(LOSS_TABLE)}
        if data["reason"] == "competitor" and self.r() < 0.7:
            data["competitor"] = self._pick(COMPETITORS)
        self._emit(self._core_sec(), "deal.lost", deal.stream, deal.rep, data)

    def _schedule_follow_up(self, d: int, sec: int, account: _Account) -> None:
        """A visit or call on the account within 72 hours of the win (if a weekday allows)."""
        for k in (1, 2, 3):
            day = d + k
            if day >= self.days:
                return
            if self.weekday[day] >= 5:
                continue
            latest = min(sec + 71 * 3_600 - k * 86_400, 61_200)  # before 72 h, and 17:00
            if latest > 28_800:
                self._at(day, self._follow_up, account, 28_800 + int(self.r() * (latest - 28_800)))
                return

    def _follow_up(self, d: int, account: _Account, sec: int) -> None:
        r = self.r
        if r() < 0.5:
            type_, data = "visit.logged", _visit(r, account.id, r() < 0.85)
        else:
            type_, data = "call.logged", _call(r, account.id, r() < 0.85)
        self._emit(sec, type_, account.stream, account.rep, data)

    def _repeat_deal(self, d: int, account: _Account) -> None:
        product: str = self._pick(REPEAT_PRODUCT_TABLE)
        self._open_deal(
            account.rep,
            d,
            self._core_sec(),
            account,
            product,
            self._cents(product),
            account.currency,
            None,
            0.75,
            fast=True,
        )

    # --- money -------------------------------------------------------------------------------

    def _invoice(self, d: int, deal: _Deal) -> None:
        r = self.r
        self.invoice_no += 1
        invoice_id = f"INV-{self.year}-{self.invoice_no:05d}"
        account = deal.account
        due = self.dates[d] + timedelta(days=14 if r() < 0.3 else 30)
        data = {
            "invoice_id": invoice_id,
            "account_id": account.id,
            "amount": _money(deal.cents),
            "currency": deal.currency,
            "deal_id": deal.id,
            "due_date": due.isoformat(),
        }
        self._emit(self._core_sec(), "invoice.issued", account.stream, deal.rep, data)
        u = r()
        if u < 0.08:
            return  # never paid
        first_day = self._workday(d + 5 + int(r() * 35))
        if u < 0.38:  # paid in two parts
            part = max(100, deal.cents * (30 + int(r() * 31)) // 100 // 100 * 100)
            if part < deal.cents:
                second_day = self._workday(first_day + 10 + int(r() * 21))
                self._at(first_day, self._payment, deal, invoice_id, part)
                self._at(second_day, self._payment, deal, invoice_id, deal.cents - part)
                return
        self._at(first_day, self._payment, deal, invoice_id, deal.cents)

    def _payment(self, d: int, deal: _Deal, invoice_id: str, cents: int) -> None:
        account = deal.account
        data = {
            "invoice_id": invoice_id,
            "account_id": account.id,
            "amount": _money(cents),
            "currency": deal.currency,
        }
        self._emit(self._core_sec(), "payment.received", account.stream, deal.rep, data, "import")


def iter_events(
    *,
    seed: int = 7,
    start: date = date(2026, 7, 1),
    days: int = 92,
    teams: int = 3,
    reps_per_team: int = 4,
    timezone: str = "Europe/Berlin",
    scale: float = 1.0,
) -> Iterator[Event]:
    """The quarter's events in append order, a day at a time (memory: the open pipeline only)."""
    quarter = _Quarter(
        seed=seed,
        start=start,
        days=days,
        teams=teams,
        reps_per_team=reps_per_team,
        timezone=timezone,
        scale=scale,
    )
    for d in range(days):
        yield from quarter.day(d)


def generate(
    *,
    seed: int = 7,
    start: date = date(2026, 7, 1),
    days: int = 92,
    teams: int = 3,
    reps_per_team: int = 4,
    timezone: str = "Europe/Berlin",
    scale: float = 1.0,
) -> list[Event]:
    """The whole quarter as a list of event envelopes, in append order (see the module doc)."""
    return list(
        iter_events(
            seed=seed,
            start=start,
            days=days,
            teams=teams,
            reps_per_team=reps_per_team,
            timezone=timezone,
            scale=scale,
        )
    )
