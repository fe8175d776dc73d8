"""Connector management: admin only, strict validation, secrets never echoed, rotation."""

from __future__ import annotations

import base64

import httpx

from tests.conftest import TokenFactory

HUBSPOT = {
    "provider": "hubspot",
    "secret": "hubspot-client-secret-abcd",
    "stages": {"appointmentscheduled": "qualification", "closedwon": "won", "closedlost": "lost"},
    "owners": {"12345": {"rep_id": "rep-anna", "team_id": "team-north"}},
    "default_currency": "EUR",
}
WHSEC = "whsec_" + base64.b64encode(b"s" * 32).decode()


class TestConnectorCrud:
    async def test_an_admin_creates_reads_updates_and_deletes(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        created = await activity.post("/v1/connectors", json=HUBSPOT, headers=auth())
        assert created.status_code == 201, created.text
        body = created.json()
        assert "hubspot-client-secret-abcd" not in created.text
        assert body["secrets"]["current"]["last4"] == "abcd"
        assert body["secrets"]["previous"] is None
        assert body["webhook_path"] == f"/v1/webhooks/hubspot/{org}"
        cid = body["id"]
        listed = await activity.get("/v1/connectors", headers=auth())
        assert [c["id"] for c in listed.json()["items"]] == [cid]
        assert "hubspot-client-secret" not in listed.text

        patched = await activity.patch(
            f"/v1/connectors/{cid}",
            headers=auth(),
            json={"secret": "hubspot-client-secret-wxyz", "stages": {"closedwon": "won"}},
        )
        assert patched.status_code == 200, patched.text
        secrets = patched.json()["secrets"]
        assert (secrets["current"]["last4"], secrets["previous"]["last4"]) == ("wxyz", "abcd")
        assert patched.json()["stages"] == {"closedwon": "won"}
        assert "secret-wxyz" not in patched.text

        dropped = await activity.patch(
            f"/v1/connectors/{cid}", headers=auth(), json={"drop_previous_secret": True}
        )
        assert dropped.json()["secrets"]["previous"] is None

        assert (await activity.delete(f"/v1/connectors/{cid}", headers=auth())).status_code == 204
        assert (await activity.get(f"/v1/connectors/{cid}", headers=auth())).status_code == 404

    async def test_a_second_connector_of_the_same_provider_conflicts(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        assert (
            await activity.post("/v1/connectors", json=HUBSPOT, headers=auth())
        ).status_code == 201
        again = await activity.post("/v1/connectors", json=HUBSPOT, headers=auth())
        assert again.status_code == 409
        assert again.json()["errors"][0]["field"] == "provider"


class TestConnectorAccess:
    async def test_non_admins_are_refused(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        for headers in (auth("manager", team="t"), auth("rep", sub="rep-1"), auth("bi")):
            r = await activity.post("/v1/connectors", json=HUBSPOT, headers=headers)
            assert r.status_code == 403
            assert (await activity.get("/v1/connectors", headers=headers)).status_code == 403

    async def test_another_orgs_connector_is_not_found(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        cid = (await activity.post("/v1/connectors", json=HUBSPOT, headers=auth())).json()["id"]
        other = auth(org_id="org-someone-else")
        assert (await activity.get(f"/v1/connectors/{cid}", headers=other)).status_code == 404
        r = await activity.patch(f"/v1/connectors/{cid}", json={}, headers=other)
        assert r.status_code == 404
        assert (await activity.delete(f"/v1/connectors/{cid}", headers=other)).status_code == 404
        dl = await activity.get(f"/v1/connectors/{cid}/dead-letters", headers=other)
        assert dl.status_code == 404


class TestConnectorValidation:
    async def test_problems_name_the_field(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        cases = [
            ({**HUBSPOT, "provider": "zoho"}, "provider"),
            ({**HUBSPOT, "default_currency": "EURO"}, "default_currency"),
            ({**HUBSPOT, "stages": {"closedwon": "Won!"}}, "stages.closedwon"),
            ({**HUBSPOT, "owners": {"1": {"rep_id": ""}}}, "owners.1.rep_id"),
            ({**HUBSPOT, "secret": "short"}, "secret"),
            ({**HUBSPOT, "provider": "generic", "secret": "not-a-whsec-secret-at-all"}, "secret"),
            ({**HUBSPOT, "surprise": 1}, "surprise"),
        ]
        for body, field in cases:
            r = await activity.post("/v1/connectors", json=body, headers=auth())
            assert r.status_code == 422, (field, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert field in [e["field"] for e in r.json()["errors"]], (field, r.json())

    async def test_a_generic_connector_takes_a_whsec_secret(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        body = {"provider": "generic", "secret": WHSEC, "default_currency": "USD"}
        r = await activity.post("/v1/connectors", json=body, headers=auth())
        assert r.status_code == 201, r.text
        assert WHSEC not in r.text


class TestMalformedBodies:
    """What the OpenAPI documents for the body-taking routes: 400 malformed, 415 media type."""

    async def test_malformed_json_is_400_and_another_media_type_415(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        created = await activity.post("/v1/connectors", json=HUBSPOT, headers=auth())
        cid = created.json()["id"]
        for method, path in (
            ("POST", "/v1/connectors"),
            ("PATCH", f"/v1/connectors/{cid}"),
            ("POST", f"/v1/webhooks/hubspot/{org}"),
            ("POST", f"/v1/webhooks/generic/{org}"),
        ):
            bad = await activity.request(
                method,
                path,
                content=b"{bad",
                headers={**auth(), "content-type": "application/json"},
            )
            other = await activity.request(
                method, path, content=b"{}", headers={**auth(), "content-type": "text/plain"}
            )
            if "/webhooks/" in path:  # unsigned (or no such connector): refused before the body
                assert bad.status_code == other.status_code
                assert bad.status_code in (401, 404)
            else:
                assert (bad.status_code, other.status_code) == (400, 415), path
