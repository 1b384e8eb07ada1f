"""Headless page visits with Playwright and the bundled Chromium."""

from __future__ import annotations

import os
from dataclasses import dataclass

from fastapi import HTTPException

ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Page:
    title: str
    text: str
    screenshot: bytes


def browse(url: str, timeout: float) -> Page:
    if not url.startswith(("http://", "https://", "file://", "data:", "about:")):
        raise HTTPException(400, "url must be http(s), file, data or about")
    from playwright.sync_api import Error, sync_playwright

    # In the bundle, Playwright's browser path points at oh-chromium; elsewhere
    # OH_CHROMIUM may name a Chromium binary (Debian's /usr/bin/chromium on a host).
    executable = os.environ.get("OH_CHROMIUM") or None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1024, "height": 768})
                page.goto(url, timeout=timeout * 1000, wait_until="load")
                return Page(
                    title=page.title(),
                    text=page.inner_text("body") if page.query_selector("body") else "",
                    screenshot=page.screenshot(full_page=False),
                )
            finally:
                browser.close()
    except Error as exc:
        raise HTTPException(502, f"browser: {str(exc).splitlines()[0]}") from None
