"""Texts of the rendered form and its page, in Chinese and English (codes ``render.*``)."""

from engine.i18n import register

register(
    {
        "render.required": {"zh": "必填", "en": "required"},
        "render.choose": {"zh": "请选择", "en": "Choose…"},
        "render.level": {"zh": "第 {n} 级", "en": "Level {n}"},
        "render.stars": {"zh": "{n} 星(满分 {max})", "en": "{n} of {max}"},
        "render.add_row": {"zh": "添加一行", "en": "Add row"},
        "render.remove_row": {"zh": "删除此行", "en": "Remove row"},
        "render.row_actions": {"zh": "操作", "en": "Actions"},
        "render.autonumber_pending": {"zh": "提交后自动生成", "en": "Assigned when submitted"},
        "render.upload_needs_script": {
            "zh": "上传文件需要浏览器启用 JavaScript；未启用时所选文件不会被保存。",
            "en": "Uploading files needs JavaScript in the browser; without it a chosen file is not saved.",
        },
        "render.pick_person": {"zh": "选择同事…", "en": "Pick a colleague…"},
        "render.pick_department": {"zh": "选择部门…", "en": "Pick a department…"},
        "render.count_unit": {"zh": "字，最多 {max} 字", "en": "characters used, at most {max}"},
        "render.summary": {
            "zh": "表单有 {count} 处错误,未保存。每处错误都显示在对应字段旁。",
            "en": "The form has {count} problem(s); nothing was saved. Each one is shown beside its field.",
        },
        "render.submit": {"zh": "提交", "en": "Submit"},
        "render.submitted_title": {"zh": "已提交", "en": "Submitted"},
        "render.submitted": {
            "zh": "工单 {number} 已提交。请记下编号以便查询。",
            "en": "Ticket {number} has been submitted. Keep the number to follow it up.",
        },
        "render.submit_another": {"zh": "再提交一张", "en": "Submit another"},
        "render.state_body": {
            "zh": '请求体应为 {"values": {...}} 或 {"form": [[名称, 值], ...]}。',
            "en": 'The body must be {"values": {...}} or {"form": [[name, value], ...]}.',
        },
    }
)
