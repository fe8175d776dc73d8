"""Every service's `/docs` and `/redoc` work offline: the pages load their scripts, styles and
favicon from the service itself, never from a public CDN (issue 11, section 6).

The apps are built as the API tests build them, but their lifespan is not run: the docs pages
and their assets touch no database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.activity.config import ActivitySettings
from services.activity.main import create_app as create_activity
from services.goals.config import GoalsSettings
from services.goals.main import create_app as create_goals
from services.scoring.config import ScoringSettings
from services.scoring.main import create_app as create_scoring
from shared.docs import install_offline_docs
from tests.conftest import JWT_SECRET

SECRET = SecretStr(JWT_SECRET)
SERVICES: dict[str, Callable[[], FastAPI]] = {
    "activity": lambda: create_activity(ActivitySettings(jwt_secret=SECRET)),
    "scoring": lambda: create_scoring(ScoringSettings(jwt_secret=SECRET)),
    "goals": lambda: create_goals(GoalsSettings(jwt_secret=SECRET)),
}
PAGES = ["/docs", "/redoc"]
# What each kind of asset must be served as, and the least it can weigh to be the real thing.
EXPECTED = {
    "script": (("javascript",), 100_000),
    "stylesheet": (("text/css",), 10_000),
    "icon": (("image/",), 100),
}


class Assets(HTMLParser):
    """The (kind, url) of every script, stylesheet and icon a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.found.append(("script", str(attributes["src"])))
        elif tag == "link" and attributes.get("href"):
            rel = (attributes.get("rel") or "").split()
            kind = "stylesheet" if "stylesheet" in rel else "icon" if "icon" in rel else "link"
            self.found.append((kind, str(attributes["href"])))


def assets_of(html: str) -> list[tuple[str, str]]:
    parser = Assets()
    parser.feed(html)
    return parser.found


def over_asgi(app: FastAPI, root_path: str = "") -> httpx.AsyncClient:
    # ASGITransport sends no lifespan events: the database and consumers are never started.
    transport = httpx.ASGITransport(app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://service")


@pytest.fixture(scope="module", params=sorted(SERVICES))
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    async with over_asgi(SERVICES[request.param]()) as client:
        yield client


class TestDocsPagesLoadNothingFromOutside:
    @pytest.mark.parametrize("page", PAGES)
    async def test_the_page_is_html_that_names_no_outside_host(self, client, page) -> None:
        answer = await client.get(page)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/html")
        assert "http://" not in answer.text
        assert "https://" not in answer.text

    @pytest.mark.parametrize("page", PAGES)
    async def test_every_script_stylesheet_and_icon_is_a_path_on_the_service(
        self, client, page
    ) -> None:
        assets = assets_of((await client.get(page)).text)
        assert any(kind == "script" for kind, _ in assets), assets
        for kind, url in assets:
            assert url.startswith("/"), (kind, url)
            assert not url.startswith("//"), (kind, url)

    async def test_swagger_ui_loads_its_script_its_stylesheet_and_the_services_openapi(
        self, client
    ):
        html = (await client.get("/docs")).text
        kinds = {kind for kind, _ in assets_of(html)}
        assert {"script", "stylesheet", "icon"} <= kinds
        assert "url: '/openapi.json'" in html
        assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io

    @pytest.mark.parametrize("page", PAGES)
    async def test_every_asset_is_served_with_its_type_and_in_full(self, client, page) -> None:
        for kind, url in assets_of((await client.get(page)).text):
            types, least = EXPECTED[kind]
            answer = await client.get(url)
            assert answer.status_code == 200, (url, answer.status_code)
            assert any(t in answer.headers["content-type"] for t in types), (url, answer.headers)
            assert len(answer.content) >= least, (url, len(answer.content))


class TestDocsPagesAreOpenAndUndocumented:
    async def test_the_oauth2_redirect_page_is_served(self, client) -> None:
        answer = await client.get("/docs/oauth2-redirect")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")

    async def test_the_openapi_document_stays_where_it_was(self, client) -> None:
        answer = await client.get("/openapi.json")
        assert answer.status_code == 200
        assert answer.json()["openapi"].startswith("3.")

    async def test_no_docs_route_appears_in_the_openapi_document(self, client) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert not [path for path in paths if path.startswith(("/docs", "/redoc"))], paths


class TestInstallingOfflineDocs:
    def test_an_app_that_still_has_the_cdn_pages_is_refused(self) -> None:
        with pytest.raises(ValueError, match="docs_url=None"):
            install_offline_docs(FastAPI())

    async def test_a_prefix_stripped_by_a_proxy_is_kept_in_every_url(self) -> None:
        app = FastAPI(docs_url=None, redoc_url=None)
        install_offline_docs(app)
        async with over_asgi(app, root_path="/api/goals") as client:
            html = (await client.get("/api/goals/docs")).text
        urls = [url for _, url in assets_of(html)]
        assert urls, urls
        assert all(url.startswith("/api/goals/docs/static/") for url in urls), urls
        assert "url: '/api/goals/openapi.json'" in html
