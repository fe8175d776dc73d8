"""API docs that work offline: `/docs` (Swagger UI) and `/redoc` load their scripts, styles and
favicon from the service itself, not from a public CDN as FastAPI's defaults do.

The files come from the `fastapi-offline` package (pinned in pyproject.toml; Swagger UI 5 and
ReDoc 2, built for the OpenAPI 3.1 that FastAPI writes). Only its static folder is used: the
pages are FastAPI's own (`get_swagger_ui_html`, `get_redoc_html`), pointed at it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
# swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and favicon.png, under:
STATIC_URL = "/docs/static"


def install_offline_docs(app: FastAPI) -> None:
    """Serve `/docs`, its OAuth2 redirect, `/redoc` and their assets from this service.

    Create the app with `docs_url=None, redoc_url=None`, or FastAPI's CDN pages would already
    hold those paths. The pages need no token and stay out of the OpenAPI document.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the app with docs_url=None and redoc_url=None")
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("offline docs need the app's OpenAPI document (openapi_url)")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"
    # No validator badge: it would send the spec's URL to validator.swagger.io.
    swagger_parameters: dict[str, Any] = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}

    app.mount(STATIC_URL, StaticFiles(directory=ASSETS), name="docs-static")

    def root(request: Request) -> str:  # behind a proxy that strips a prefix, as FastAPI does
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{base}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{base}{STATIC_URL}/favicon.png",
            oauth2_redirect_url=base + oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_parameters,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{base}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
