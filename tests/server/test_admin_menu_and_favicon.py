"""The ticket import page sits in the admin layout like every admin page (the side menu, its entry
marked), and every page names a favicon the site serves, so no visit logs a 404 for one."""

from __future__ import annotations

import re


def test_the_import_page_has_the_admin_menu_with_its_entry_marked(web):
    page = web.client("admin").get("/admin/imports?lang=en").get_data(as_text=True)
    menu = re.search(r'<nav class="admin-nav".*?</nav>', page, re.S)
    assert menu, "no admin menu"
    assert 'href="/admin/users"' in menu.group(0) and 'href="/admin/audit"' in menu.group(0)
    assert re.search(r'href="/admin/imports" aria-current="page"', menu.group(0))
    assert "imports.js" in page and "admin.css" in page and "imports.css" in page
    assert "<title>Import tickets · Admin" in page


def test_every_page_links_a_favicon_that_is_served(web):
    for client, path in ((web.anonymous(), "/login"), (web.client("admin"), "/admin/users")):
        page = client.get(path).get_data(as_text=True)
        icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
        assert icon, path
        answer = web.anonymous().get(icon.group(1))
        assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
        assert answer.get_data(as_text=True).lstrip().startswith("<svg")
