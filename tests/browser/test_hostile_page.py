"""A hostile page in a real Chromium (issue 14.1): it cannot command a pressure or admit a patient.

The page is served from ``localhost`` on another port, so for the browser the
API on ``127.0.0.1`` is another site, as a web page the staff open would be.
It tries the review's two attacks: an ``<img>`` GET of the old pressure route
and a ``no-cors`` POST of an old upload.
"""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
import requests

from cpap_lib.server.process import free_port

ROOM = 1  # seeded by the browser fixtures, no commanded pressure


@pytest.fixture
def hostile_site(tmp_path, api):
    url, _client = api
    (tmp_path / "index.html").write_text(f"""<!doctype html><html><body>
<img src="{url}/new_cpap_pressure/{ROOM}/25">
<script>
fetch("{url}/add_patient", {{method: "POST", mode: "no-cors",
  body: JSON.stringify({{patient_name: "Fake", patient_mrn: "666", room_number: "{ROOM}", CPAP_pressure: "25",
                        breath_rate: "1", apnea_count: "1", flow_image: ""}})}})
  .finally(() => {{ document.title = "sent"; }});
</script></body></html>""")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    port = free_port()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}/index.html"
    site.shutdown()


@pytest.mark.slow
def test_a_page_on_another_site_changes_nothing(browser, hostile_site, api):
    url, client = api
    before = client.room(ROOM)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(hostile_site)
        page.wait_for_function("document.title === 'sent'", timeout=20_000)
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    after = client.room(ROOM)
    assert after.commanded_cmh2o == before.commanded_cmh2o
    assert after.mrn == before.mrn
    assert requests.get(f"{url}/api/v1/patients/666", timeout=10).status_code == 404
