"""The import page: upload a sheet, follow its check (on the job queue), map its columns, read the
dry run's errors, import with a progress bar. Admins only. The page's script (static/imports.js)
calls the imports API and polls the job while it is checked; the import's progress bar is a
fragment htmx polls until the job is done."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from engine.errors import NotFoundError
from engine.i18n import register, text_of
from engine.ticket_import import job_summary, job_view
from server.app import platform
from server.pages.admin import admin_page, show
from server.web import page

bp = Blueprint("imports_page", __name__)

register(
    {
        "imports.page.title": {"zh": "导入工单", "en": "Import tickets"},
        "imports.page.help": {
            "zh": "上传 Excel(.xlsx)或 CSV 文件,第一行为列名。先检查(不写入),确认无误后导入;"
            "重复导入不会产生重复工单。",
            "en": "Upload an Excel (.xlsx) or CSV file whose first row holds the column names. "
            "Check it first (nothing is written), then import; importing the same file again creates "
            "no duplicates.",
        },
        "imports.page.type": {"zh": "工单类型", "en": "Ticket type"},
        "imports.page.choose": {"zh": "选择", "en": "Choose"},
        "imports.page.file": {"zh": "文件", "en": "File"},
        "imports.page.saved": {"zh": "已保存的映射", "en": "Saved mapping"},
        "imports.page.none": {"zh": "(按列名自动匹配)", "en": "(match by column name)"},
        "imports.page.check": {"zh": "检查", "en": "Check"},
        "imports.page.checking": {"zh": "检查进度", "en": "Checking"},
        "imports.page.recheck": {"zh": "按此映射重新检查", "en": "Check again with this mapping"},
        "imports.page.mapping": {"zh": "列映射", "en": "Column mapping"},
        "imports.page.column": {"zh": "文件中的列", "en": "Column in the file"},
        "imports.page.target": {"zh": "导入到", "en": "Import into"},
        "imports.page.skip": {"zh": "(不导入)", "en": "(do not import)"},
        "imports.page.save_as": {"zh": "保存映射为", "en": "Save the mapping as"},
        "imports.page.errors": {"zh": "有问题的行", "en": "Rows with problems"},
        "imports.page.row": {"zh": "行", "en": "Row"},
        "imports.page.message": {"zh": "问题", "en": "Problem"},
        "imports.page.no_errors": {"zh": "没有发现问题。", "en": "No problems found."},
        "imports.page.import": {"zh": "导入有效的行", "en": "Import the valid rows"},
        "imports.page.export": {"zh": "导出为 Excel", "en": "Export to Excel"},
        "imports.page.progress": {"zh": "进度", "en": "Progress"},
    }
)


def _types() -> list[dict[str, Any]]:
    out = []
    runtime = platform().runtime
    for app in runtime.apps():
        try:
            _, data = runtime.definition(app["key"])
        except NotFoundError:
            continue
        for key, tt in (data.get("ticket_types") or {}).items():
            name = f"{text_of(app['name'], g.lang)} · {text_of(tt.get('name'), g.lang) or key}"
            out.append({"app": app["key"], "type": key, "name": name})
    return out


@bp.get("/admin/imports")
@admin_page
def imports_home():
    types = _types()
    chosen = request.args.get("type", "")
    app_key, _, ticket_type = chosen.partition("/")
    current = next((x for x in types if x["app"] == app_key and x["type"] == ticket_type), None)
    return show("pages/imports.html", "imports", types=types, chosen=current)  # with the admin menu


@bp.get("/admin/imports/jobs/<int:job_id>/progress")
@admin_page
def import_progress(job_id: int):
    job = job_view(platform().db, job_id, g.lang)
    return page("pages/imports_progress.html", job=job, summary=job_summary(job, g.lang))
