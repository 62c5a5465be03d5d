"""Small wording a person reads: counts in proper English plural, the designer's two test-related
tabs told apart, and closing or cancelling a ticket asked with what will happen."""

from __future__ import annotations

import html as htmllib
import json
import re

import engine.admin_messages  # the admin's texts
import engine.designer_messages  # noqa: F401  (the designer's texts)
from engine.i18n import t
from tests.support import complaint_form


def test_a_count_of_one_is_singular_in_english_and_the_same_in_chinese():
    assert t("form.invalid", "en", count=1) == "The form has 1 problem; nothing was saved:"
    assert t("form.invalid", "en", count=5) == "The form has 5 problems; nothing was saved:"
    one = t("definition.invalid", "en", name="a.yaml", count=1)
    assert one.startswith("App definition a.yaml has 1 problem;")
    assert t("designer.overview.changes", "en", count=1) == "1 change from the running version"
    assert t("form.invalid", "zh", count=1) == "表单有 1 处错误，未保存："
    for code in ("form.invalid", "definition.invalid", "designer.refused", "admin.import_invalid"):
        assert "(s)" not in t(code, "en", count=2) and "(s)" not in t(code, "en", count=1)


def test_the_designer_tabs_say_tests_and_check_and_publish_apart(web):
    admin = web.client("admin")
    tabs_by_lang = (("en", "Tests", "Check &amp; publish"), ("zh", "场景测试", "检查与发布"))
    for lang, tests_tab, publish_tab in tabs_by_lang:
        page = admin.get(f"/designer/complaint/form/complaint?lang={lang}", headers={"Accept": "text/html"})
        assert page.status_code == 200
        tabs = re.findall(r'<a role="tab"[^>]*>([^<]+)</a>', page.get_data(as_text=True))
        assert tests_tab in tabs and publish_tab in tabs, tabs
        assert "Tests &amp; publish" not in tabs and "测试与发布" not in tabs


def test_the_form_designer_counts_columns_in_proper_words(web):
    admin = web.client("admin")
    for lang, one, two in (("en", "1 column", "2 columns"), ("zh", "1 列", "2 列")):
        page = admin.get(f"/designer/complaint/form/complaint?lang={lang}", headers={"Accept": "text/html"})
        raw = re.search(r"data-form-words='([^']+)'", page.get_data(as_text=True)).group(1)
        words = json.loads(htmllib.unescape(raw))
        assert words["columns_one"].replace("{count}", "1") == one
        assert words["columns_n"].replace("{count}", "2") == two


def test_closing_a_ticket_asks_with_what_will_happen(web):
    _, definition = web.runtime.definition("complaint")
    ticket = web.runtime.submit("complaint", "complaint", complaint_form(definition), actor=web.id("admin"))
    admin = web.client("admin")
    expected = (("zh", ("关闭工单", ticket.number, "待办将被取消")), ("en", ("Close ticket", "open tasks")))
    for lang, words in expected:
        page = admin.get(f"/tickets/{ticket.id}?lang={lang}").get_data(as_text=True)
        asks = [htmllib.unescape(a) for a in re.findall(r'data-confirm="([^"]+)"', page)]
        close = [a for a in asks if words[0] in a]
        assert close and all(w in close[0] for w in words), asks
        assert "确定吗?" not in asks and "Are you sure?" not in asks
