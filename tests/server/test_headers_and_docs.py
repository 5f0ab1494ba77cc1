"""Security headers on every answer and /docs without a CDN (issue 14.13)."""

from __future__ import annotations

import re

import requests


def test_api_answers_carry_security_headers(server):
    for path, status in (("/health", 200), ("/api/v1/ward", 200), ("/nothing", 404)):
        answer = requests.get(server.url + path, timeout=10)
        assert answer.status_code == status
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    refused = requests.get(f"{server.url}/health", headers={"Host": "evil.example"}, timeout=10)
    assert refused.status_code == 400 and refused.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_load_every_asset_from_the_server_itself(server):
    page = requests.get(f"{server.url}/docs", timeout=10)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/docs-assets/") for a in assets), assets
    for asset in assets:
        assert requests.get(server.url + asset, timeout=10).status_code == 200, asset
    assert requests.get(f"{server.url}/openapi.json", timeout=10).json()["info"]["title"] == "Sleep Lab Monitor API"
