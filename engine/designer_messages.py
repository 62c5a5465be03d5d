"""The designer's messages (engine/designer.py, the draft API and the designer pages), zh and en."""

from engine.i18n import register

FIELD_TYPE_NAMES = {
    "text": ("单行文本", "Text"),
    "textarea": ("多行文本", "Long text"),
    "richtext": ("富文本", "Rich text"),
    "email": ("邮箱", "Email"),
    "phone": ("电话", "Phone"),
    "url": ("网址", "URL"),
    "number": ("数字", "Number"),
    "money": ("金额", "Money"),
    "rating": ("评分", "Rating"),
    "date": ("日期", "Date"),
    "datetime": ("日期时间", "Date and time"),
    "checkbox": ("勾选", "Checkbox"),
    "select": ("下拉选择", "Drop-down"),
    "radio": ("单选", "Radio buttons"),
    "multiselect": ("多选", "Multiple choice"),
    "cascade": ("级联选择", "Cascade"),
    "user": ("人员", "Person"),
    "department": ("部门", "Department"),
    "link": ("关联工单", "Linked ticket"),
    "attachment": ("附件", "Attachment"),
    "image": ("图片", "Image"),
    "subtable": ("子表格", "Sub-table"),
    "formula": ("公式", "Formula"),
    "autonumber": ("自动编号", "Auto number"),
}

register({f"designer.field_type.{name}": {"zh": zh, "en": en} for name, (zh, en) in FIELD_TYPE_NAMES.items()})

register(
    {
        # --- engine errors and problems
        "designer.forbidden": {
            "zh": "您不能设计应用 {app}：需要管理员，或该应用中 designer 角色的成员。请联系管理员授予角色。",
            "en": "You may not design the app {app}: it takes an admin or a member of the app's designer "
            "role. Ask an admin to give you the role.",
        },
        "designer.create_forbidden": {
            "zh": "只有管理员可以新建或复制应用。",
            "en": "Only admins may create or copy apps.",
        },
        "designer.unknown_app": {
            "zh": "应用 {app} 不存在，也没有它的草稿。请在设计器首页新建应用。",
            "en": "There is no app {app} and no draft of it. Create the app on the designer's start page.",
        },
        "designer.no_draft": {
            "zh": "应用 {app} 没有草稿，无需放弃。",
            "en": "The app {app} has no draft to discard.",
        },
        "designer.unknown_ticket_type": {
            "zh": "应用 {app} 的草稿中没有工单类型 {ticket_type}。可选：{known}。",
            "en": "The draft of {app} has no ticket type {ticket_type}. Known: {known}.",
        },
        "designer.unknown_stage": {
            "zh": "工单类型 {ticket_type} 的流程中没有节点 {stage}。可选：{known}。",
            "en": "The flow of {ticket_type} has no node {stage}. Known: {known}.",
        },
        "designer.conflict": {
            "zh": "草稿已被 {who} 保存为第 {revision} 版(您编辑的是第 {sent} 版)，未保存您的修改。"
            "请查看下列差异，选择保留您的版本或载入最新草稿。",
            "en": "{who} saved the draft as revision {revision} (you edited revision {sent}); your changes "
            "were not saved. Review the differences below, then keep yours or load the latest draft.",
        },
        "designer.someone": {"zh": "其他人", "en": "someone else"},
        "designer.refused": {
            "zh": "草稿有 {count} 处问题，未保存。请按提示修改：",
            "en": "The draft has {count} problems and was not saved. Fix them as each says:",
            "en.one": "The draft has 1 problem and was not saved. Fix it as it says:",
        },
        "designer.app_key_fixed": {
            "zh": "草稿的应用标识必须是 {app}(当前为 {value})。如需新标识，请使用“复制应用”。",
            "en": "The draft's app key must stay {app} (it is {value}). To use another key, copy the app.",
        },
        "designer.field_in_use": {
            "zh": "字段 {field} 已删除或改名，但这里仍在使用它({how})。请先修改或删除此处，再删除字段。",
            "en": "The field {field} was removed or renamed but is still used here ({how}). Change or "
            "remove this use first, then remove the field.",
        },
        "designer.field_has_data": {
            "zh": "已有 {count} 张工单在字段 {field} 中保存了数据，不能直接删除或改名。若是改名，请在新字段上"
            '保留 renamed_from: {field}(在设计器中改标识时会自动设置)，或保存时附带 migrate: {{"{field}": '
            '"新标识"}}；若确要丢弃这些数据，请附带 migrate: {{"{field}": null}}。',
            "en.one": "1 ticket holds data in the field {field}, so it cannot simply be removed or renamed. "
            "To rename it, keep renamed_from: {field} on the new field (the designer sets it when you change "
            'a key) or save with migrate: {{"{field}": "new_key"}}; to drop that data on purpose, save '
            'with migrate: {{"{field}": null}}.',
            "en": "{count} tickets hold data in the field {field}, so it cannot simply be removed or renamed. "
            "To rename it, keep renamed_from: {field} on the new field (the designer sets it when you change "
            'a key) or save with migrate: {{"{field}": "new_key"}}; to drop that data on purpose, save '
            'with migrate: {{"{field}": null}}.',
        },
        "designer.migrate_target_missing": {
            "zh": "migrate 要把字段 {field} 改名为 {target}，但草稿中没有字段 {target}。请先添加该字段。",
            "en": "migrate renames {field} to {target}, but the draft has no field {target}. Add that field first.",
        },
        "designer.publish_failed_scenarios": {
            "zh": "有 {count} 个场景测试未通过，未发布。请修正应用或测试后再发布：",
            "en": "{count} scenario tests failed; nothing was published. Fix the app or the tests, then "
            "publish again:",
            "en.one": "1 scenario test failed; nothing was published. Fix the app or the test, then publish again:",
        },
        "designer.scenario_failed": {
            "zh": "场景 “{name}” 未通过：{detail}",
            "en": "Scenario “{name}” failed: {detail}",
        },
        "designer.app_exists": {
            "zh": "应用标识 {app} 已被使用(已发布的应用或草稿)。请换一个标识。",
            "en": "The app key {app} is taken (a published app or a draft). Choose another key.",
        },
        "designer.bad_key": {
            "zh": "应用标识须以小写字母开头，只含小写字母、数字和下划线，最多 40 个字符。",
            "en": "An app key starts with a lower-case letter and has only lower-case letters, digits and "
            "underscores, at most 40 characters.",
        },
        "designer.unknown_template": {
            "zh": "没有模板 {template}。可选：{known}。",
            "en": "There is no template {template}. Known: {known}.",
        },
        "designer.not_published": {
            "zh": "应用 {app} 尚未发布，没有可回滚的版本。",
            "en": "The app {app} was never published; there is no version to roll back to.",
        },
        "designer.expr_bad_kind": {
            "zh": "kind 须为 condition 或 value。",
            "en": "kind is condition or value.",
        },
        # --- where a field is used (the {how} of designer.field_in_use)
        "designer.use.expression": {"zh": "表达式", "en": "an expression"},
        "designer.use.permission": {"zh": "节点的字段权限", "en": "a node's field permissions"},
        "designer.use.assignee": {"zh": "处理人取自此字段", "en": "the assignee comes from it"},
        "designer.use.dispatch": {"zh": "分派依据此字段", "en": "dispatch reads it"},
        "designer.use.sla": {"zh": "SLA 按此字段取时限", "en": "the SLA picks its limits by it"},
        "designer.use.trigger": {"zh": "规则的触发条件", "en": "a rule's trigger"},
        "designer.use.action": {"zh": "规则的动作写入此字段", "en": "a rule's action writes it"},
        "designer.use.report": {"zh": "报表", "en": "a report"},
        "designer.use.dashboard": {"zh": "仪表盘筛选", "en": "a dashboard filter"},
        "designer.use.template": {"zh": "通知模板", "en": "a notification template"},
        "designer.use.inbound": {"zh": "入站消息映射", "en": "an inbound message mapping"},
        "designer.use.test": {"zh": "场景测试", "en": "a scenario test"},
        # --- pages
        "designer.title": {"zh": "应用设计器", "en": "App designer"},
        "designer.tabs": {"zh": "设计区域", "en": "Designer sections"},
        "designer.tab.overview": {"zh": "概览", "en": "Overview"},
        "designer.tab.form": {"zh": "表单", "en": "Form"},
        "designer.tab.flow": {"zh": "流程", "en": "Flow"},
        "designer.tab.rules": {"zh": "规则", "en": "Rules"},
        "designer.tab.reports": {"zh": "报表", "en": "Reports"},
        "designer.tab.publish": {"zh": "检查与发布", "en": "Check & publish"},
        "designer.ticket_type": {"zh": "工单类型", "en": "Ticket type"},
        "designer.based_on": {"zh": "草稿 · 基于第 {version} 版", "en": "Draft · based on version {version}"},
        "designer.never_published": {"zh": "草稿 · 尚未发布", "en": "Draft · never published"},
        "designer.index.apps": {"zh": "我的应用", "en": "Your apps"},
        "designer.index.no_apps": {
            "zh": "还没有可以设计的应用。",
            "en": "There is no app you may design yet.",
        },
        "designer.index.app": {"zh": "应用", "en": "App"},
        "designer.index.version": {"zh": "运行版本", "en": "Running version"},
        "designer.index.draft": {"zh": "草稿", "en": "Draft"},
        "designer.index.has_draft": {
            "zh": "有未发布的草稿(第 {revision} 次保存)",
            "en": "Unpublished draft (save {revision})",
        },
        "designer.index.no_draft": {"zh": "无草稿", "en": "No draft"},
        "designer.index.open": {"zh": "打开设计器", "en": "Open the designer"},
        "designer.index.copy": {"zh": "复制", "en": "Copy"},
        "designer.index.gallery": {"zh": "从模板新建", "en": "Start from a template"},
        "designer.index.new": {"zh": "新建应用", "en": "New app"},
        "designer.index.key": {"zh": "应用标识", "en": "App key"},
        "designer.index.key_hint": {
            "zh": "如 hr_leave(小写字母、数字、下划线)",
            "en": "e.g. hr_leave (lower-case, digits, _)",
        },
        "designer.index.name_zh": {"zh": "中文名称", "en": "Name (Chinese)"},
        "designer.index.name_en": {"zh": "英文名称", "en": "Name (English)"},
        "designer.index.template": {"zh": "模板", "en": "Template"},
        "designer.index.create": {"zh": "创建草稿", "en": "Create the draft"},
        "designer.index.copy_to": {"zh": "复制为新应用", "en": "Copy as a new app"},
        "designer.index.counts": {
            "zh": "{fields} 个字段 · {nodes} 个节点 · {rules} 条规则 · {reports} 个报表",
            "en": "{fields} fields · {nodes} nodes · {rules} rules · {reports} reports",
        },
        "designer.template.empty": {"zh": "空白应用", "en": "Empty app"},
        "designer.template.empty_desc": {
            "zh": "一个工单类型、一个标题字段和最简单的流程，从零开始搭建。",
            "en": "One ticket type, a title field and the simplest flow: build from scratch.",
        },
        "designer.overview.types": {"zh": "工单类型", "en": "Ticket types"},
        "designer.overview.edit_form": {"zh": "设计表单", "en": "Design the form"},
        "designer.overview.edit_flow": {"zh": "设计流程", "en": "Design the flow"},
        "designer.overview.saved_by": {"zh": "最近保存：{who}，{at}", "en": "Last saved by {who} at {at}"},
        "designer.overview.changes": {
            "zh": "相对运行版本有 {count} 处修改",
            "en": "{count} changes from the running version",
            "en.one": "1 change from the running version",
        },
        "designer.overview.discard": {"zh": "放弃草稿", "en": "Discard the draft"},
        "designer.overview.discard_confirm": {
            "zh": "放弃草稿后所有未发布的修改都会丢失，确定吗?",
            "en": "Discarding the draft loses every unpublished change. Are you sure?",
        },
        # form designer
        "designer.form.palette": {"zh": "字段类型", "en": "Field types"},
        "designer.form.palette_hint": {
            "zh": "拖入表单；或双击(回车)添加到当前分组。",
            "en": "Drag into the form, or double-click (Enter) to add to the current section.",
        },
        "designer.form.canvas": {"zh": "表单", "en": "Form"},
        "designer.form.add_section": {"zh": "添加分组", "en": "Add a section"},
        "designer.form.section_title": {"zh": "分组标题", "en": "Section title"},
        "designer.form.columns": {"zh": "列数", "en": "Columns"},
        "designer.form.columns_n": {"zh": "{count} 列", "en": "{count} columns"},
        "designer.form.columns_one": {"zh": "{count} 列", "en": "1 column"},
        "designer.form.tab": {"zh": "所在标签页", "en": "Tab"},
        "designer.form.remove_section": {"zh": "删除分组", "en": "Remove the section"},
        "designer.form.properties": {"zh": "属性", "en": "Properties"},
        "designer.form.pick_field": {
            "zh": "选择一个字段以编辑其属性。",
            "en": "Pick a field to edit its properties.",
        },
        "designer.form.label_zh": {"zh": "标签(中文)", "en": "Label (Chinese)"},
        "designer.form.label_en": {"zh": "标签(英文)", "en": "Label (English)"},
        "designer.form.key": {"zh": "标识", "en": "Key"},
        "designer.form.type": {"zh": "类型", "en": "Type"},
        "designer.form.required": {"zh": "必填", "en": "Required"},
        "designer.form.readonly": {"zh": "只读", "en": "Read-only"},
        "designer.form.default": {"zh": "默认值", "en": "Default"},
        "designer.form.help_zh": {"zh": "说明(中文)", "en": "Help (Chinese)"},
        "designer.form.help_en": {"zh": "说明(英文)", "en": "Help (English)"},
        "designer.form.options": {
            "zh": "选项(每行一个：值=中文|英文)",
            "en": "Options (one a line: value=Chinese|English)",
        },
        "designer.form.options_from": {"zh": "选项集", "en": "Option set"},
        "designer.form.validation": {"zh": "校验", "en": "Validation"},
        "designer.form.visible_if": {"zh": "显示条件", "en": "Visible when"},
        "designer.form.required_if": {"zh": "必填条件", "en": "Required when"},
        "designer.form.readonly_if": {"zh": "只读条件", "en": "Read-only when"},
        "designer.form.expr_hint": {
            "zh": "表达式，如 priority == 'P1'",
            "en": "An expression, e.g. priority == 'P1'",
        },
        "designer.form.expr_ok": {"zh": "表达式正确", "en": "The expression is fine"},
        "designer.form.permissions": {"zh": "各阶段权限", "en": "Permissions per stage"},
        "designer.form.level.inherit": {"zh": "(默认)", "en": "(default)"},
        "designer.form.level.editable": {"zh": "可编辑", "en": "Editable"},
        "designer.form.level.readonly": {"zh": "只读", "en": "Read-only"},
        "designer.form.level.hidden": {"zh": "隐藏", "en": "Hidden"},
        "designer.form.role_rules": {
            "zh": "按角色(如 cs_lead=editable)",
            "en": "By role (e.g. cs_lead=editable)",
        },
        "designer.form.copy": {"zh": "复制字段", "en": "Copy the field"},
        "designer.form.remove": {"zh": "删除字段", "en": "Remove the field"},
        "designer.form.undo": {"zh": "撤销", "en": "Undo"},
        "designer.form.redo": {"zh": "重做", "en": "Redo"},
        "designer.form.save": {"zh": "保存草稿", "en": "Save the draft"},
        "designer.form.preview": {"zh": "预览", "en": "Preview"},
        "designer.form.preview_stage": {"zh": "按阶段预览", "en": "Preview at stage"},
        "designer.form.preview_start": {"zh": "提交时", "en": "On submission"},
        "designer.form.new_field": {"zh": "新字段", "en": "New field"},
        "designer.form.new_section": {"zh": "新分组", "en": "New section"},
        "designer.form.min": {"zh": "最小值", "en": "Minimum"},
        "designer.form.max": {"zh": "最大值", "en": "Maximum"},
        "designer.form.min_length": {"zh": "最少字符", "en": "Minimum length"},
        "designer.form.max_length": {"zh": "最多字符", "en": "Maximum length"},
        "designer.form.pattern": {"zh": "格式(正则)", "en": "Pattern (regex)"},
        "designer.form.precision": {"zh": "小数位", "en": "Decimal places"},
        "designer.form.multiple": {"zh": "允许多个", "en": "Allow several"},
        "designer.form.expr": {"zh": "公式", "en": "Formula"},
        "designer.form.currency": {"zh": "币种", "en": "Currency"},
        "designer.form.max_size_mb": {"zh": "单个文件上限(MB)", "en": "Largest file (MB)"},
        "designer.form.min_rows": {"zh": "最少行数", "en": "Minimum rows"},
        "designer.form.max_rows": {"zh": "最多行数", "en": "Maximum rows"},
        "designer.form.format": {"zh": "编号格式", "en": "Number pattern"},
        "designer.form.placeholder": {"zh": "占位提示", "en": "Placeholder"},
        "designer.form.unique": {"zh": "值唯一", "en": "Unique"},
        "designer.form.index": {"zh": "可搜索列", "en": "Searchable column"},
        "designer.form.target_type": {"zh": "关联的工单类型", "en": "Linked ticket type"},
        "designer.form.problems": {"zh": "{count} 处问题", "en": "{count} problems"},
        "designer.form.problems_one": {"zh": "{count} 处问题", "en": "1 problem"},
        "designer.form.no_problems": {"zh": "没有问题", "en": "No problems"},
        "designer.form.option": {"zh": "选项", "en": "Option"},
        "designer.form.stage_default": {"zh": "所有阶段", "en": "All stages"},
        # publish page
        "designer.publish.check": {"zh": "检查定义", "en": "Check the definition"},
        "designer.publish.tests": {"zh": "运行场景测试", "en": "Run the scenario tests"},
        "designer.publish.diff": {"zh": "与运行版本的差异", "en": "Changes from the running version"},
        "designer.publish.affected": {"zh": "受影响的进行中工单", "en": "Running tickets affected"},
        "designer.publish.no_changes": {
            "zh": "草稿与运行版本相同。",
            "en": "The draft equals the running version.",
        },
        "designer.publish.open_tickets": {
            "zh": "进行中的工单共 {count} 张；以下修改涉及其中一些(它们仍按原版本运行，升级时才受影响)：",
            "en": "{count} open tickets in all; these changes concern some of them (they keep running on "
            "their version and meet the change when upgraded):",
            "en.one": "1 open ticket in all; these changes may concern it (it keeps running on its version "
            "and meets the change when upgraded):",
        },
        "designer.publish.affected_line": {
            "zh": "{count} 张工单，如 {examples}",
            "en": "{count} tickets, e.g. {examples}",
            "en.one": "1 ticket: {examples}",
        },
        "designer.publish.none_affected": {
            "zh": "没有进行中的工单受影响。",
            "en": "No open ticket is affected.",
        },
        "designer.publish.note": {"zh": "发布说明", "en": "Release note"},
        "designer.publish.publish": {"zh": "发布", "en": "Publish"},
        "designer.publish.published": {"zh": "已发布第 {version} 版。", "en": "Published version {version}."},
        "designer.publish.versions": {"zh": "历史版本", "en": "Versions"},
        "designer.publish.running": {"zh": "运行中", "en": "running"},
        "designer.publish.rollback": {"zh": "回滚到此版本", "en": "Roll back to this version"},
        "designer.publish.rollback_confirm": {
            "zh": "将把此版本重新发布为新版本；进行中的工单保持原版本。确定吗?",
            "en": "This publishes that version again as a new version; running tickets keep theirs. Sure?",
        },
        "designer.publish.rolled_back": {
            "zh": "已回滚，新版本为第 {version} 版。",
            "en": "Rolled back: the new version is {version}.",
        },
        "designer.publish.passed": {"zh": "通过", "en": "passed"},
        "designer.publish.failed": {"zh": "未通过", "en": "failed"},
        "designer.publish.no_tests": {"zh": "此应用没有场景测试。", "en": "This app has no scenario tests."},
        "designer.publish.ok": {"zh": "定义检查通过。", "en": "The definition passes every check."},
        # draft.js
        "designer.js.saving": {"zh": "正在保存…", "en": "Saving…"},
        "designer.js.saved": {"zh": "已保存(第 {revision} 次)。", "en": "Saved (revision {revision})."},
        "designer.js.not_saved": {"zh": "未保存。", "en": "Not saved."},
        "designer.js.not_loaded": {"zh": "草稿载入失败。", "en": "The draft could not be loaded."},
        "designer.js.conflict": {"zh": "草稿已被他人修改。", "en": "Someone else changed the draft."},
        "designer.js.keep_mine": {"zh": "保留我的修改并覆盖", "en": "Keep mine (overwrite)"},
        "designer.js.take_theirs": {"zh": "载入最新草稿(放弃我的修改)", "en": "Load the latest (drop mine)"},
        "designer.js.reloaded": {
            "zh": "已载入最新草稿(第 {revision} 次)。",
            "en": "Loaded the latest draft (revision {revision}).",
        },
        "designer.js.checking": {"zh": "正在检查…", "en": "Checking…"},
        "designer.js.check_ok": {"zh": "没有发现问题。", "en": "No problems found."},
        "designer.js.problems": {"zh": "发现以下问题：", "en": "Problems found:"},
    }
)

#: The form designer's words, handed to form_designer.js (``designer.form.<name>``).
FORM_WORDS = tuple(
    name.removeprefix("designer.form.")
    for name in (
        "designer.form.palette designer.form.palette_hint designer.form.add_section designer.form.section_title "
        "designer.form.columns designer.form.tab designer.form.remove_section designer.form.properties "
        "designer.form.pick_field designer.form.label_zh designer.form.label_en designer.form.key "
        "designer.form.type designer.form.required designer.form.readonly designer.form.default "
        "designer.form.help_zh designer.form.help_en designer.form.options designer.form.options_from "
        "designer.form.validation designer.form.visible_if designer.form.required_if designer.form.readonly_if "
        "designer.form.expr_hint designer.form.expr_ok designer.form.permissions designer.form.level.inherit "
        "designer.form.level.editable designer.form.level.readonly designer.form.level.hidden "
        "designer.form.role_rules designer.form.copy designer.form.remove designer.form.new_field "
        "designer.form.new_section designer.form.min designer.form.max designer.form.min_length "
        "designer.form.max_length designer.form.pattern designer.form.precision designer.form.multiple "
        "designer.form.expr designer.form.currency designer.form.max_size_mb designer.form.min_rows "
        "designer.form.max_rows designer.form.format designer.form.placeholder designer.form.unique "
        "designer.form.index designer.form.target_type designer.form.problems designer.form.no_problems "
        "designer.form.option designer.form.stage_default designer.form.columns_n designer.form.columns_one "
        "designer.form.problems_one"
    ).split()
)
