"""Every page in Chromium: no console errors, small HTML, phone width, keyboard, live count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Server, screenshot, seed_edit, visit

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def page_urls(server: Server, change_id: int) -> list[str]:
    return [
        "/ui/queue",
        "/ui/queue?status=all&category=image_generation",
        f"/ui/changes/{change_id}",
        "/ui/apply",
        "/ui/history",
        "/ui/history/audit",
        f"/ui/timeline?category=image_generation&name={quote('Glacier Landscape')}",
        "/ui/catalog",
        "/ui/catalog/image_generation",
        "/ui/catalog/text_generation?page=3",
        f"/ui/catalog/image_generation/{quote('Glacier Landscape')}",
        "/ui/propose/miscellaneous",
    ]


def test_every_page_without_console_errors_at_laptop_and_phone_width(
    server: Server, signed_in: Callable[..., Any]
) -> None:
    change_id = seed_edit(server, "Glacier Landscape", "Studio Ghibli style, longer text " * 6)
    laptop = signed_in("carol")
    phone = signed_in("carol", width=390, height=844)
    for url in page_urls(server, change_id):
        for page in (laptop, phone):
            visit(page, server.base_url + url)
            page.wait_for_load_state("load")
        overflow = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at phone width"
    visit(phone, f"{server.base_url}/ui/changes/{change_id}")
    screenshot(phone, "change-phone")


def test_keyboard_reaches_skip_link_and_focus_is_visible(
    server: Server, signed_in: Callable[..., Any]
) -> None:
    page = signed_in("bob")
    visit(page, server.base_url + "/ui/queue")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    # Tabbing on reaches the filters and the status select is usable by keyboard.
    page.focus("#f-status")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"


def test_pending_count_updates_live(server: Server, signed_in: Callable[..., Any]) -> None:
    page = signed_in("bob")
    visit(page, server.base_url + "/ui/queue")
    before = int(page.inner_text("#pending-count"))
    seed_edit(server, "Glacier Landscape", "one more pending change")
    # htmx polls every 10 s; ask it to poll now instead of waiting.
    page.evaluate("htmx.trigger('#pending-count', 'refresh')")
    expect(page.locator("#pending-count")).to_have_text(str(before + 1))
