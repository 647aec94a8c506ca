"""``chainwarden serve``: a small read-only web app over the fleet store.

Starlette with server-rendered Jinja2 templates; charts are inline SVG drawn on
the server; the stylesheet is served from this package (no CDN, no JavaScript
needed). Every route is a GET: nothing can be changed through it. The JSON API
under ``/api/`` needs ``Authorization: Bearer TOKEN``; the HTML pages are open
to whoever can reach the bind address, which is 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from chainwarden.errors import UsageError
from chainwarden.fleet.store import FleetStore
from chainwarden.report.svg import bar_chart, line_chart

HERE = Path(__file__).parent
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info", "unknown")


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def create_app(store: FleetStore, *, token: str) -> Starlette:
    """The ASGI app over an opened store; ``token`` guards ``/api/``."""
    from chainwarden.fleet import queries
    from chainwarden.fleet.stale import stale_images

    templates = Jinja2Templates(directory=str(HERE / "templates"))

    def page(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> Response:
        return templates.TemplateResponse(request, name, dict(context), status_code=status)

    def overview(request: Request) -> Response:
        rows = queries.list_images(store)
        by_worst = {level: 0 for level in (*SEVERITY_ORDER, "clean")}
        for row in rows:
            by_worst[row.worst or "clean"] += 1
        severity_chart = bar_chart("Images by worst finding", [(k, v) for k, v in by_worst.items() if v or k != "info"])
        timeline = queries.findings_timeline(store)
        share = queries.in_use_share(store)
        stale = [r for r in stale_images(store) if r.stale]
        return page(
            request,
            "overview.html",
            {
                "images": rows,
                "stale": stale,
                "severity_chart": Markup(severity_chart),  # noqa: S704 - drawn here from escaped values
                "timeline_chart": Markup(line_chart("Findings over time (cumulative)", timeline)),  # noqa: S704
                "in_use_chart": Markup(bar_chart("Packages by in-use level", sorted(share.items()))) if share else None,  # noqa: S704
                "stats": store.stats(),
            },
        )

    def image(request: Request) -> Response:
        detail = queries.image_detail(store, request.path_params["digest"])
        if detail is None:
            return page(request, "error.html", {"message": "no such image in the fleet"}, status=404)
        counts: dict[str, int] = {}
        for finding in detail.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        chart = bar_chart("Findings by severity", [(s, counts.get(s, 0)) for s in SEVERITY_ORDER if s in counts])
        return page(
            request,
            "image.html",
            {"detail": detail, "chart": Markup(chart), "hardening": _hardening(detail)},  # noqa: S704
        )

    def affected(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        rows: list[Any] = []
        error = None
        if query:
            try:
                rows = queries.affected(store, query)
            except UsageError as exc:
                error = exc.diagnostics()
        return page(request, "affected.html", {"query": query, "rows": rows, "error": error})

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSONResponse(
                    {"error": "missing or wrong token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
            try:
                return JSONResponse(_plain(handler(request)))
            except UsageError as exc:
                return JSONResponse({"error": exc.diagnostics()}, status_code=400)

        return endpoint

    routes = [
        Route("/", overview),
        Route("/images/{digest}", image),
        Route("/affected", affected),
        Route("/api/images", guarded(lambda r: {"images": queries.list_images(store)})),
        Route("/api/affected", guarded(lambda r: {"affected": queries.affected(store, r.query_params.get("q", ""))})),
        Route("/api/stale", guarded(lambda r: {"images": stale_images(store)})),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes)


def _hardening(detail: Any) -> dict[str, int] | None:
    """Before/after of hardening the image to what its stored profile saw in use.

    Like ``chainwarden harden``, only packages the profile shows unused
    (``not-observed``) would go; a package the profile does not know stays.
    """
    levels = [use for *_, use in detail.packages]
    if not any(levels):
        return None
    kept = [use for use in levels if use != "not-observed"]
    return {
        "packages_before": len(levels),
        "packages_after": len(kept),
        "findings_before": len(detail.findings),
        "findings_after": sum(1 for f in detail.findings if f.in_use != "not-observed"),
    }


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"{text!r}: want HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)
