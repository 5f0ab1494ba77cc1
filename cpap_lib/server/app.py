"""The FastAPI application factory.

Examples
--------
>>> from cpap_lib.server.settings import Settings
>>> app = create_app(Settings(database_url="sqlite://"))
>>> paths = app.openapi()["paths"]
>>> [p for p in ("/api/v1/rooms", "/api/v1/rooms/{room}/measurements", "/api/v1/alarms",
...              "/api/v1/rooms/{room}/timeline", "/api/v1/rooms/{room}/notes") if p in paths]
['/api/v1/rooms', '/api/v1/rooms/{room}/measurements', '/api/v1/alarms', '/api/v1/rooms/{room}/timeline', '/api/v1/rooms/{room}/notes']
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import NotFoundError
from .alarms import ALARM_RULES_HELP, AlarmRules
from .db import Database
from .middleware import AccessLog, BodySizeLimit, BrowserGuard, FailSafe, SecurityHeaders, WriteQueue, route_of
from .routes import ROUTERS
from .settings import Settings

__all__ = ["API_VERSION", "create_app"]

API_VERSION = "1.0.0"
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's native OpenTelemetry off: nothing here exports it, and asking for providers costs every request."""
logger = logging.getLogger("cpap_lib.server")


async def _not_found(_request: Request, exc: NotFoundError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=404)


async def _conflict(request: Request, exc: IntegrityError) -> JSONResponse:
    logger.warning(
        "event=db_conflict method=%s path=%s error=%s", request.method, request.url.path, type(exc.orig).__name__
    )
    return JSONResponse({"detail": "the request conflicts with stored data; try again"}, status_code=409)


async def _database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    # One line per outage (DatabaseStatus), not per request; the exception text may quote stored values.
    request.app.state.db.status.failed(exc)
    logger.debug("event=db_error route=%s error=%s", route_of(request.scope), type(exc).__name__)
    sentence = getattr(exc, "sentence", None) or "database unavailable; try again shortly"
    return JSONResponse({"detail": sentence}, status_code=503)


def _warn_legacy_networks(settings: Settings) -> None:
    if not settings.legacy_networks:
        return
    networks = ",".join(str(n) for n in settings.legacy_networks)
    if not settings.auth_enabled:
        logger.warning(
            "event=legacy_networks_ignored networks=%s reason=no_tokens_configured "
            "note=without tokens the server is open on loopback only",
            networks,
        )
        return
    logger.warning(
        "event=legacy_networks_open networks=%s routes=POST/add_patient,GET/CPAP_query "
        "note=clients in these networks may upload and poll the old routes WITHOUT A TOKEN; "
        "every other route needs a token",
        networks,
    )


def _safe_text(value: object) -> str:
    """Text that always encodes as UTF-8 JSON (a lone surrogate becomes ``\\ud800``)."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each field and rule, or 400 for a body that is not JSON; never the input itself.

    FastAPI's own handler echoes the input (a NaN or a lone surrogate there made
    the answer itself fail with a 500, and a patient's name reached the log).
    """
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse({"detail": "body: not valid JSON"}, status_code=400)
    detail = [
        {
            "loc": [_safe_text(p) for p in e.get("loc", ())],
            "msg": _safe_text(e.get("msg", "")),
            "type": _safe_text(e.get("type", "")),
        }
        for e in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def _mount_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle`` package's files (pages open offline)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: database (schema created or upgraded: :mod:`.migrations`), routers, error handlers, middleware.

    Parameters
    ----------
    settings : Settings, optional
        Default: :meth:`Settings.from_env`.
    """
    settings = settings or Settings.from_env()
    app = FastAPI(
        telemetry=NO_TELEMETRY,
        docs_url=None,  # served below from local assets: no CDN
        redoc_url=None,
        title="Sleep Lab Monitor API",
        version=API_VERSION,
        description="Bedside stations upload measurements and poll for CPAP pressure commands; "
        "the monitoring station reads the ward and its alarm board, commands pressures, acknowledges alarms "
        "and keeps notes on each night.\n\n"
        "**Times**: the server stores UTC and every time it sends or accepts is UTC (ISO 8601); "
        "pages show them as clock times in the lab's time zone (`CPAP_LAB_TZ`).\n\n"
        "**Alarm rules** (`GET /api/v1/alarms/rules`, set by `CPAP_ALARM_*`): " + ALARM_RULES_HELP,
    )
    app.state.settings = settings
    _mount_docs(app)
    app.state.alarm_rules = AlarmRules.from_env()
    _warn_legacy_networks(settings)
    app.state.db = Database(settings.database_url)
    for router in ROUTERS:
        app.include_router(router)
    for exc_class, handler in (
        (RequestValidationError, _invalid_request),
        (NotFoundError, _not_found),
        (IntegrityError, _conflict),
        (SQLAlchemyError, _database_error),
    ):
        app.exception_handler(exc_class)(handler)
    app.add_middleware(FailSafe, deadline_s=settings.request_timeout_s, status=app.state.db.status)
    app.add_middleware(WriteQueue, per_minute=settings.writes_per_minute if settings.auth_enabled else None)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(BrowserGuard, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    return app
