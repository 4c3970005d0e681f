"""Text in one place per language: the catalogs agree with each other and with the pages, and a
screen switches language (text, numbers and times) in a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orderlog.domain import webhooks
from orderlog.domain.model import DEFAULT_WORKFLOW
from support.browser import Api, browser, open_page
from support.faultproxy import FaultProxy
from support.server import Workspace, running_server

STATIC = Path(__file__).resolve().parents[2] / "static"
CATALOGS = ("en", "pt-BR")
KEY = re.compile(r'^\s*"([\w.]+)":', re.M)
USED = [
    re.compile(r'\bt\("([\w.]+)"'),  # t("key", ...)
    re.compile(r'\bt\(\w+ \? "([\w.]+)" : "([\w.]+)"'),  # t(cond ? "a" : "b")
    re.compile(r'data-i18n(?:-[\w-]+)?="([\w.]+)"'),  # static text and attributes
    re.compile(r'"(home\.[\w.]+|orders\.[\w.]+)"'),  # keys handed to t() through a variable
]


def catalog(name: str) -> dict[str, str]:
    """key -> the catalog's line for it (a message or a {one, other} object)."""
    text = (STATIC / "i18n" / f"{name}.js").read_text()
    return {m.group(1): text[m.end() : text.find("\n", m.end())] for m in KEY.finditer(text)}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    """Every language has every English key, no other key, and the same {placeholders}."""
    english = catalog("en")
    assert len(english) > 150
    for name in CATALOGS[1:]:
        other = catalog(name)
        assert set(other) == set(english), set(other) ^ set(english)
        for key, line in english.items():
            assert set(re.findall(r"\{(\w+)\}", other[key])) == set(
                re.findall(r"\{(\w+)\}", line)
            ), key


def test_status_messages_are_the_default_workflows_labels() -> None:
    """The catalog names each status of the default workflow by the label the server gives it
    (a screen translates a label only while it is that default)."""
    english = catalog("en")
    for status in DEFAULT_WORKFLOW.statuses:
        assert english[f"status.{status.name}"].strip(' ",') == status.label


def test_every_key_the_pages_use_is_defined() -> None:
    """Each key a page or module names (t("..."), data-i18n) is in the English catalog."""
    english = catalog("en")
    used: set[str] = set()
    for path in [*STATIC.glob("*.html"), *STATIC.glob("js/*.js")]:
        text = path.read_text()
        for pattern in USED:
            for match in pattern.finditer(text):
                used.update(g for g in match.groups() if g and "." in g)
    used = {key for key in used if not key.startswith(("orderlog.", "pair.html"))}
    assert used, "no keys found: the patterns are stale"
    missing = sorted(used - set(english))
    assert missing == [], missing


def test_every_webhook_event_has_a_label() -> None:
    """The settings page labels each event the server offers (home.js ``hooks.event.<name>``),
    in every language (the catalogs agree: above), and no event it does not offer."""
    prefix = "hooks.event."
    labelled = {k.removeprefix(prefix) for k in catalog("en") if k.startswith(prefix)}
    assert labelled == set(webhooks.EVENTS)


@pytest.mark.browser
async def test_language_switch_changes_text_numbers_and_times(
    site: Any, workspace: Workspace
) -> None:
    """Choosing Português on the sign-in page keeps the choice for this screen: the pages' text,
    plural forms, numbers and dates follow it; ?lang=en switches back."""
    from playwright.async_api import expect

    base, api = site
    await api.create(items=[{"name": "Latte", "quantity": 2}])
    async with browser(base) as b:
        await open_page(b, workspace, "index.html")
        await expect(b.page.locator("h1")).to_have_text("orderlog dashboards")
        await b.page.select_option("select.language", "pt-BR")
        await expect(b.page.locator("h1")).to_have_text("Painéis do orderlog")
        assert await b.page.get_attribute("html", "lang") == "pt-BR"
        await expect(b.page.locator("#signin button[type=submit]")).to_have_text("Entrar")
        await b.page.goto("/orders.html")
        await expect(b.page.locator("#count")).to_have_text("1 pedido exibido", timeout=3000)
        created = await b.page.locator("#results tbody td").nth(1).inner_text()
        assert re.match(r"^\d\d/\d\d/\d{4}", created), created  # dd/mm/yyyy
        await expect(b.page.locator('label:has(input[name="customer"]) span')).to_have_text(
            "Usuário do cliente"
        )
        await b.page.goto("/pair.html?lang=en")  # signed in: pairing sends it on, in English
        await b.page.goto("/orders.html")
        await expect(b.page.locator("#count")).to_have_text("1 order shown", timeout=3000)
        created = await b.page.locator("#results tbody td").nth(1).inner_text()
        assert re.match(r"^\d{1,2}/\d{1,2}/\d\d", created), created  # en-US: m/d/yy
        assert b.errors == []


@pytest.mark.browser
async def test_board_and_pickup_speak_the_screens_language(site: Any, workspace: Workspace) -> None:
    """A board and a pickup screen set to Português show their own text, counts and
    announcements in it (?lang=pt-BR, kept by the screen)."""
    from playwright.async_api import expect

    base, api = site
    order = await api.create(status="preparing")
    async with browser(base) as b:
        page = b.page
        await page.goto(
            f"/board.html?lang=pt-BR#key={workspace.keys['read']}&workspace={workspace.id}"
        )
        await expect(page.locator("h1")).to_have_text("Quadro")
        assert await page.get_attribute("html", "lang") == "pt-BR"
        card = page.locator(f'[data-order="{order["id"]}"]')
        await expect(card.locator(".people")).to_contain_text("Cliente")
        await expect(card.locator(".column-age")).to_contain_text("Na coluna")
        await expect(page.locator("label:has(#column-age)")).to_have_text("Tempo na coluna")
        await page.goto("/pickup.html")
        await expect(page.locator("#preparing-title")).to_have_text("Preparando")
        await expect(page.locator("#ready-title")).to_have_text("Pronto")
        await expect(page.locator("#chime")).to_have_text("Aviso sonoro: desligado")
        await expect(
            page.locator(f'#preparing [data-number="{order["order_number"]}"]')
        ).to_be_visible()
        await api.move(order["id"], "waiting_for_pickup")
        await expect(page.locator("#announce")).to_have_text(
            f"Pronto: número {order['order_number']}"
        )
        assert b.errors == []


@pytest.mark.browser
async def test_kitchen_speaks_the_screens_language(
    settings: Any, redis: Any, workspace: Workspace
) -> None:
    """A kitchen screen set to Português shows its header, a ticket (the default workflow's
    statuses, rush flag, allergen banner, buttons), the counts (numbers written the Brazilian
    way), the key help, the outage banner and the queued action's count in it; its `?` dialog
    switches it back to English."""
    from playwright.async_api import expect

    async with running_server(settings) as base:
        proxy = await FaultProxy("127.0.0.1", int(base.rsplit(":", 1)[1])).start()
        api = Api(base, workspace)
        await api.settings(allergen_words=["amendoim"])
        order = await api.create(
            status="waiting_for_preparation",
            priority="rush",
            items=[{"name": "Brigadeiro", "quantity": 1200, "notes": "alergia a amendoim"}],
        )
        keys = workspace.keys
        try:
            async with browser(f"http://127.0.0.1:{proxy.port}") as b:
                page = b.page
                await page.goto(
                    f"/kitchen.html?lang=pt-BR#key={keys['read']}&workspace={workspace.id}"
                    f"&write={keys['write']}"
                )
                await expect(page.locator("#conn")).to_have_text("ao vivo", timeout=5000)
                assert await page.get_attribute("html", "lang") == "pt-BR"
                await expect(page.locator("h1")).to_have_text("Cozinha")
                await expect(page.locator("header nav a.current")).to_have_text("Cozinha")
                ticket = page.locator(f'.tile[data-order="{order["id"]}"]')
                await expect(ticket.locator(".state")).to_have_text("Aguardando")
                await expect(ticket.locator(".rush-flag")).to_have_text("URGENTE")
                await expect(ticket.locator(".allergen")).to_have_text(
                    "⚠ Alergia: Brigadeiro: alergia a amendoim"
                )
                await expect(ticket.locator(".items .qty")).to_have_text("1.200×")
                await expect(ticket.locator("button.bump")).to_have_text("→ Preparando")
                await expect(ticket.locator("button.cancel")).to_have_text("Cancelar")
                await expect(ticket.locator(".people")).to_contain_text("Para")
                await expect(page.locator("#allday li")).to_have_text(["Brigadeiro ×1.200"])
                await expect(page.locator("#kitchen-stats")).to_contain_text(
                    "1 aberto · o mais antigo há"
                )
                await expect(page.locator("#page-info")).to_have_text("Página 1 · pedidos 1–1 de 1")
                await expect(page.locator("#sound")).to_contain_text("Som:")
                await page.keyboard.press("?")
                dialog = page.locator("#keys")
                await expect(dialog.locator("h2")).to_have_text("Esta tela")
                await expect(dialog.locator('tr[data-action="bump"] td').nth(1)).to_have_text(
                    "Avançar o pedido selecionado"
                )
                await expect(dialog.locator('tr[data-action="done"] kbd')).to_have_text("Espaço")
                await expect(dialog.locator("label:has(#size)")).to_contain_text("Tamanho do texto")
                await expect(dialog.locator("#lateRepeatSeconds option").first).to_have_text(
                    "desligado"
                )
                await page.keyboard.press("Escape")
                await expect(dialog).to_be_hidden()

                proxy.set_mode("blackhole")
                banner = page.locator("#outage")
                await expect(banner).to_contain_text(
                    "Conexão perdida: tentando de novo", timeout=10_000
                )
                await expect(page.locator("#conn")).to_have_text("reconectando")
                await page.keyboard.press("Enter")
                await expect(page.locator("#pending")).to_have_text("1 ação aguardando envio")
                await expect(ticket.locator(".queued-note")).to_have_text("Na fila: → Preparando")
                proxy.set_mode("pass")
                await expect(banner).to_be_hidden(timeout=15_000)
                await expect(page.locator("#pending")).to_be_hidden(timeout=10_000)
                await api.until_status(order["id"], "preparing")
                # the screen's own settings choose its language too (a TV has no address bar)
                await page.keyboard.press("?")
                await dialog.locator("select.language").select_option("en")
                await expect(page.locator("h1")).to_have_text("Kitchen")
                await expect(page.locator("#conn")).to_have_text("live", timeout=5000)
                await expect(ticket.locator(".state")).to_have_text("Preparing")
                assert b.errors == []
        finally:
            await proxy.stop()
            await api.http.aclose()
