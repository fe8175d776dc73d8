import base64, json, uuid
from tests.conftest import make_event

async def test_probe(activity, auth, db, org):
    h = auth()
    J = {**h, "content-type": "application/json"}
    async def call(f):
        try: return await f()
        except Exception as e: return e
    async def show(label, r):
        if isinstance(r, Exception): print("\n###", label, "EXC", repr(r)[:300]); return
        print("\n###", label, r.status_code, r.text[:400])
    def d(t="visit.logged", **kw):
        ev = make_event(t); ev["data"] = {**ev["data"], **kw}; return ev
    cases = {
      "surrogate": json.dumps(d(note="SURR")).replace('"SURR"', '"\\ud800"').encode(),
      "deep": b"[" * 100000 + b"]" * 100000,
      "nonutf8": b'\xff\xfe{}',
    }
    for k, body in cases.items():
        await show(k, await call(lambda: activity.post("/v1/events", content=body, headers=J)))
    evs = {
      "XXY": d("deal.won", currency="XXY") | {"stream": "deal-1"},
      "eur": d("deal.won", currency="eur") | {"stream": "deal-1"},
      "num amount": d("deal.won", amount=1250.5),
      "int amount": d("deal.won", amount=1250),
      "decimals": d("deal.won", amount="1.23456"),
      "neg": d("deal.won", amount="-5.00"),
      "space amt": d("deal.won", amount=" 5.00"),
      "exp amt": d("deal.won", amount="1e3"),
      "arabic digits": d("deal.won", amount="١٢٣"),
      "amount NaN": d("deal.won", amount="NaN"),
      "bad uuid": make_event(event_id="not-a-uuid"),
      "int uuid": make_event(event_id=5),
      "ev -1": make_event(expected_version=-1),
      "ev 1.5": make_event(expected_version=1.5),
      "ev true": make_event(expected_version=True),
      "naive": make_event(occurred_at="2026-11-20T10:30:00"),
      "date only": make_event(occurred_at="2026-11-20"),
      "unix ts": make_event(occurred_at=1700000000),
      "bad stream": make_event(stream="opportunity-1"),
      "schema 2": make_event(schema_version=2),
      "extra top": make_event(foo=1),
      "extra data": d(foo=1),
      "dealwon payload on visit": make_event(data=make_event("deal.won")["data"]),
      "missing required": make_event(data={"mode": "onsite", "effective": True}),
      "data null": make_event(data=None),
      "meta bad": make_event(metadata={"source": "crm:HubSpot"}),
      "meta extra": make_event(metadata={"source": "app", "x": 1}),
      "void missing": make_event("event.voided", data={"voided_event_id": str(uuid.uuid4()), "reason": "x"}),
      "duration str": d(duration_minutes="45"),
      "attrs list": make_event("lead.created", data={**make_event("lead.created")["data"], "attributes": {"tags": ["a"]}}),
      "attrs null": make_event("lead.created", data={**make_event("lead.created")["data"], "attributes": {"city": None}}),
      "attrs bad key": make_event("lead.created", data={**make_event("lead.created")["data"], "attributes": {"1city": "x"}}),
      "lead value no currency": make_event("lead.created", data={"name": "x", "channel": "online", "estimated_value": "5.00"}),
    }
    for k, ev in evs.items():
        await show(k, await call(lambda: activity.post("/v1/events", json=ev, headers=h)))
    # batch domain errors
    evs = [make_event() for _ in range(20)]; evs[17]["rep_id"] = "someone-else"
    await show("batch rep17", await call(lambda: activity.post("/v1/events/batch", json={"events": evs}, headers=auth("rep", sub="rep-1", team="t1"))))
    evs = [make_event() for _ in range(20)]; evs[17]["expected_version"] = 7
    await show("batch ev17", await call(lambda: activity.post("/v1/events/batch", json={"events": evs}, headers=h)))
    evs = [make_event() for _ in range(20)]; evs[17]["event_id"] = evs[3]["event_id"]; evs[17]["stream"]="deal-x"
    await show("batch dupid", await call(lambda: activity.post("/v1/events/batch", json={"events": evs}, headers=h)))
    await show("batch extra", await call(lambda: activity.post("/v1/events/batch", json={"events": [make_event()], "x": 1}, headers=h)))
    await show("batch not list", await call(lambda: activity.post("/v1/events/batch", json={"events": {}}, headers=h)))
    await show("batch single event", await call(lambda: activity.post("/v1/events/batch", json=make_event(), headers=h)))
    for hd in [{"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer abc.def.ghi"}]:
        r = await call(lambda: activity.get("/v1/events", headers=hd)); await show(str(hd), r); print(getattr(r, "headers", {}).get("www-authenticate"))
    print(await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id=$1", org))
