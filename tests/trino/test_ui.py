"""The Trino web UI opens in a real (headless) browser and shows the query just run.

Chromium comes from Debian (`apt-get install chromium`), driven by Playwright's
Python package; Playwright's own browser download is never used.
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.stack

def test_ui_lists_the_query_just_run(stack, trino_query, browser_page):
    tag = f"ui_check_{uuid.uuid4().hex[:12]}"
    assert trino_query(f"SELECT '{tag}' AS {tag}, count(*) FROM source.public.customers")

    page = browser_page
    page.goto(f"{stack.trino_url}/ui/", wait_until="domcontentloaded")

    # No login form on loopback. The list shows running and failed queries by
    # default: add finished ones, then search for the query's text.
    page.get_by_role("button", name="Finished").click()
    page.get_by_placeholder("query text", exact=False).fill(tag)
    page.get_by_text(tag).first.wait_for(timeout=30_000)
    assert page.get_by_text("CLUSTER OVERVIEW", exact=False).count() >= 1
