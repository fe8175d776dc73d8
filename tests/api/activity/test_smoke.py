from tests.conftest import make_event


async def test_append_and_read(activity, auth):
    ev = make_event()
    r = await activity.post("/v1/events", json=ev, headers=auth())
    assert r.status_code == 201, r.text
    r2 = await activity.post("/v1/events", json=ev, headers=auth())
    assert r2.status_code == 200, r2.text
    assert r2.json() == r.json()
    feed = await activity.get("/v1/events", headers=auth())
    print(feed.json())
    assert feed.json()["items"][0]["event_id"] == ev["event_id"]
