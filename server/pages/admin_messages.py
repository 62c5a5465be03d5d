"""The admin pages' words, in Chinese and English."""

from engine.i18n import register

register(
    {
        # --- sections
        "admin.page.section.users": {"zh": "用户", "en": "Users"},
        "admin.page.section.departments": {"zh": "部门", "en": "Departments"},
        "admin.page.section.roles": {"zh": "角色", "en": "Roles"},
        "admin.page.section.apps": {"zh": "应用", "en": "Apps"},
        "admin.page.section.channels": {"zh": "通知渠道", "en": "Channels"},
        "admin.page.section.dead": {"zh": "死信", "en": "Dead letters"},
        "admin.page.section.rule_runs": {"zh": "规则日志", "en": "Rule runs"},
        "admin.page.section.audit": {"zh": "审计日志", "en": "Audit log"},
        "admin.page.section.imports": {"zh": "导入工单", "en": "Import tickets"},
        # --- notices after a change
        "admin.page.done.user_saved": {"zh": "已保存。", "en": "Saved."},
        "admin.page.done.department_created": {
            "zh": "已添加部门 {name}。",
            "en": "Added the department {name}.",
        },
        "admin.page.done.department_saved": {"zh": "部门已保存。", "en": "The department is saved."},
        "admin.page.done.department_deleted": {"zh": "部门已删除。", "en": "The department is deleted."},
        "admin.page.done.members_saved": {
            "zh": "角色 {name} 的成员已保存。",
            "en": "The members of {name} are saved.",
        },
        "admin.page.done.channel_set": {
            "zh": "渠道 {name} 的地址已保存(此后只显示遮盖后的地址)。",
            "en": "The address of {name} is saved (from now on it is only shown masked).",
        },
        "admin.page.done.channel_cleared": {
            "zh": "已清除 {name} 的管理员设置,改用环境变量。",
            "en": "Cleared the admin's address of {name}; the environment's applies.",
        },
        "admin.page.done.retried": {
            "zh": "已重新发送 {count} 条。",
            "en": "{count} sent again.",
        },
        "admin.page.done.published": {
            "zh": "已发布为版本 {version}。",
            "en": "Published as version {version}.",
        },
        "admin.page.done.rolled_back": {
            "zh": "已回滚:旧定义发布为版本 {version}。进行中的工单保持原版本。",
            "en": "Rolled back: the old definition is published as version {version}. "
            "Running tickets keep their version.",
        },
        "admin.page.done.unchanged": {
            "zh": "定义与运行中的版本 {version} 相同,未发布新版本。",
            "en": "The definition equals the running version {version}; nothing new was published.",
        },
        # --- common
        "admin.page.save": {"zh": "保存", "en": "Save"},
        "admin.page.create": {"zh": "创建", "en": "Create"},
        "admin.page.edit": {"zh": "编辑", "en": "Edit"},
        "admin.page.delete": {"zh": "删除", "en": "Delete"},
        "admin.page.clear": {"zh": "清除", "en": "Clear"},
        "admin.page.search": {"zh": "搜索", "en": "Search"},
        "admin.page.filter": {"zh": "筛选", "en": "Filter"},
        "admin.page.clear_filter": {"zh": "清除筛选", "en": "Clear filters"},
        "admin.page.more": {"zh": "下一页", "en": "Next page"},
        "admin.page.older": {"zh": "更早的", "en": "Older"},
        "admin.page.yes": {"zh": "是", "en": "Yes"},
        "admin.page.no": {"zh": "否", "en": "No"},
        "admin.page.no_file": {"zh": "请选择要上传的文件。", "en": "Choose a file to upload."},
        "admin.page.none_selected": {"zh": "请先勾选。", "en": "Select some first."},
        "admin.page.select_all": {"zh": "全选", "en": "Select all"},
        "admin.page.select_row": {"zh": "选择 {id}", "en": "Select {id}"},
        "admin.page.created_at": {"zh": "创建于", "en": "Created"},
        "admin.page.at": {"zh": "时间", "en": "When"},
        # --- users
        "admin.page.search_hint": {"zh": "用户名或姓名", "en": "Username or name"},
        "admin.page.import_csv": {"zh": "从 CSV 导入", "en": "Import from CSV"},
        "admin.page.new_user": {"zh": "新建用户", "en": "New user"},
        "admin.page.username": {"zh": "用户名", "en": "Username"},
        "admin.page.display_name": {"zh": "姓名", "en": "Name"},
        "admin.page.email": {"zh": "邮箱", "en": "Email"},
        "admin.page.phone": {"zh": "电话", "en": "Phone"},
        "admin.page.department": {"zh": "部门", "en": "Department"},
        "admin.page.manager": {"zh": "上级", "en": "Manager"},
        "admin.page.lang": {"zh": "语言", "en": "Language"},
        "admin.page.tz": {"zh": "时区", "en": "Time zone"},
        "admin.page.initial_password": {"zh": "初始密码", "en": "Initial password"},
        "admin.page.password_generated": {
            "zh": "留空则随机生成",
            "en": "Leave empty for a random one",
        },
        "admin.page.is_admin": {"zh": "管理员", "en": "Admin"},
        "admin.page.active": {"zh": "启用", "en": "Active"},
        "admin.page.inactive": {"zh": "已停用", "en": "Deactivated"},
        "admin.page.away": {"zh": "休假中", "en": "Away"},
        "admin.page.locked": {"zh": "已锁定", "en": "Locked"},
        "admin.page.state": {"zh": "状态", "en": "State"},
        "admin.page.no_users": {"zh": "没有找到用户。", "en": "No users found."},
        "admin.page.roles": {"zh": "角色", "en": "Roles"},
        "admin.page.no_roles": {"zh": "没有角色。", "en": "No roles."},
        "admin.page.weight": {"zh": "权重", "en": "weight"},
        "admin.page.password": {"zh": "密码", "en": "Password"},
        "admin.page.locked_hint": {
            "zh": "密码错误次数过多,账户已锁定。重置密码即可解锁。",
            "en": "Locked after too many wrong passwords. Resetting the password unlocks it.",
        },
        "admin.page.reset_password": {"zh": "重置密码", "en": "Reset password"},
        "admin.page.reset_confirm": {
            "zh": "为 {name} 生成新密码并让其所有会话退出?",
            "en": "Give {name} a new password and sign them out everywhere?",
        },
        "admin.page.reset_hint": {
            "zh": "生成一个随机密码(只显示一次),解除锁定,并结束该用户的所有会话。",
            "en": "Makes a random password (shown once), lifts a lock and ends the user's sessions.",
        },
        "admin.page.user_created": {"zh": "已创建用户 {name}", "en": "Created the user {name}"},
        "admin.page.password_reset": {"zh": "已重置 {name} 的密码", "en": "Reset the password of {name}"},
        "admin.page.password_once": {
            "zh": "新密码如下,只显示这一次。请通过安全的方式告知本人,并提醒其登录后修改:",
            "en": "The new password, shown this once. Hand it over safely and ask them to change it after "
            "signing in:",
        },
        "admin.page.password_given": {
            "zh": "已使用您设定的初始密码。",
            "en": "The initial password you gave is set.",
        },
        "admin.page.open_user": {"zh": "打开用户", "en": "Open the user"},
        # --- CSV import
        "admin.page.csv_help": {
            "zh": "第一行为表头,可用的列:username(必填)、display_name、email、phone、department(路径,如 "
            "客服部/一组,不存在则创建)、manager(上级用户名)、roles(应用:角色,多个用 ; 分隔)。UTF-8 或 GBK "
            "编码。先检查所有行,有任何错误则不写入;已存在的用户会被更新(空单元格保留原值,角色只增加)。",
            "en": "The first row is the header; the columns are username (required), display_name, email, "
            "phone, department (a path like 客服部/一组, created if missing), manager (a username) and roles "
            "(app:role, several separated by ;). UTF-8 or GBK. Every row is checked first and nothing is "
            "written if any has a problem; existing users are updated (empty cells keep their values, roles "
            "are only added).",
        },
        "admin.page.csv_file": {"zh": "CSV 文件", "en": "CSV file"},
        "admin.page.dry_run": {
            "zh": "只检查,不写入(试运行)",
            "en": "Only check, write nothing (dry run)",
        },
        "admin.page.upload": {"zh": "上传", "en": "Upload"},
        "admin.page.would_happen": {"zh": "试运行:将会发生", "en": "Dry run: what would happen"},
        "admin.page.imported": {"zh": "已导入", "en": "Imported"},
        "admin.page.import_counts": {
            "zh": "新建 {created} 人,更新 {updated} 人,未变 {unchanged} 人;"
            "新部门 {departments} 个;新增角色成员 {roles} 个。",
            "en": "{created} created, {updated} updated, {unchanged} unchanged; {departments} new "
            "department(s); {roles} role membership(s) added.",
        },
        "admin.page.created_users": {"zh": "新建的用户", "en": "New users"},
        "admin.page.updated_users": {
            "zh": "更新的用户(及变化的列)",
            "en": "Updated users (and what changed)",
        },
        "admin.page.unchanged_users": {"zh": "未变化的用户", "en": "Unchanged users"},
        "admin.page.new_departments": {"zh": "新部门", "en": "New departments"},
        "admin.page.dry_run_hint": {
            "zh": "尚未写入任何内容。取消勾选「试运行」后再上传一次即可导入。",
            "en": "Nothing is written yet. Untick the dry run and upload again to import.",
        },
        "admin.page.no_passwords_hint": {
            "zh": "新用户还没有密码:请在用户页面为其重置密码后再告知本人。",
            "en": "New users have no password yet: reset it on their user page, then hand it over.",
        },
        # --- departments
        "admin.page.department_name": {"zh": "名称", "en": "Name"},
        "admin.page.parent": {"zh": "上级部门", "en": "Parent"},
        "admin.page.top_level": {"zh": "(顶级)", "en": "(top level)"},
        "admin.page.add_department": {"zh": "添加部门", "en": "Add department"},
        "admin.page.head": {"zh": "负责人", "en": "Head"},
        "admin.page.members_count": {"zh": "{count} 人", "en": "{count} member(s)"},
        "admin.page.delete_confirm": {"zh": "删除部门 {name}?", "en": "Delete the department {name}?"},
        "admin.page.no_departments": {"zh": "还没有部门。", "en": "No departments yet."},
        # --- roles
        "admin.page.apps": {"zh": "应用", "en": "Apps"},
        "admin.page.pick_app": {"zh": "请选择一个应用。", "en": "Pick an app."},
        "admin.page.role": {"zh": "角色", "en": "Role"},
        "admin.page.scope": {"zh": "可见范围", "en": "Sees"},
        "admin.page.scope.own": {"zh": "自己相关的工单", "en": "Their own tickets"},
        "admin.page.scope.department": {"zh": "本部门的工单", "en": "Their department's tickets"},
        "admin.page.scope.all": {"zh": "全部工单", "en": "All tickets"},
        "admin.page.members": {"zh": "成员", "en": "Members"},
        "admin.page.no_members": {"zh": "没有成员。", "en": "No members."},
        "admin.page.edit_members": {"zh": "编辑成员", "en": "Edit members"},
        "admin.page.members_help": {
            "zh": "每行一个用户名,后面可跟权重(1–100,按权重分派,默认 1),例如:li.lei 2。保存会替换全部成员。",
            "en": "One username per line, optionally followed by a weight (1–100, for weighted dispatch, "
            "default 1), e.g. li.lei 2. Saving replaces all members.",
        },
        # --- apps
        "admin.page.app": {"zh": "应用", "en": "App"},
        "admin.page.running_version": {"zh": "运行版本", "en": "Running"},
        "admin.page.versions": {"zh": "版本数", "en": "Versions"},
        "admin.page.version": {"zh": "版本", "en": "Version"},
        "admin.page.running": {"zh": "运行中", "en": "running"},
        "admin.page.published_at": {"zh": "发布时间", "en": "Published"},
        "admin.page.note": {"zh": "备注", "en": "Note"},
        "admin.page.export": {"zh": "导出 YAML", "en": "Export YAML"},
        "admin.page.no_apps": {"zh": "还没有应用。", "en": "No apps yet."},
        "admin.page.import_app": {"zh": "导入应用定义", "en": "Import an app definition"},
        "admin.page.definition_file": {
            "zh": "定义文件(YAML 或 JSON)",
            "en": "Definition file (YAML or JSON)",
        },
        "admin.page.check_diff": {"zh": "检查并查看差异", "en": "Check and show the changes"},
        "admin.page.diff_title": {
            "zh": "{app}:作为版本 {version} 发布时的变化",
            "en": "{app}: what changes when published as version {version}",
        },
        "admin.page.diff_unchanged": {
            "zh": "与运行中的版本 {version} 相同,无需发布。",
            "en": "The same as the running version {version}: nothing to publish.",
        },
        "admin.page.no_changes": {"zh": "没有变化。", "en": "No changes."},
        "admin.page.publish_as": {"zh": "发布为版本 {version}", "en": "Publish as version {version}"},
        "admin.page.diff_previous": {"zh": "与上一版比较", "en": "Changes from the previous"},
        "admin.page.rollback_to": {"zh": "回滚到 v{version}", "en": "Roll back to v{version}"},
        "admin.page.rollback_confirm": {
            "zh": "把版本 {version} 的定义发布为新版本?",
            "en": "Publish the definition of version {version} as a new version?",
        },
        "admin.page.rollback_hint": {
            "zh": "回滚会把旧定义发布为新的版本;进行中的工单继续按各自的版本运行。",
            "en": "Rolling back publishes the old definition as a new version; running tickets go on "
            "with their own version.",
        },
        "admin.page.compare": {"zh": "比较版本", "en": "Compare versions"},
        "admin.page.from": {"zh": "从", "en": "From"},
        "admin.page.to": {"zh": "到", "en": "To"},
        # --- channels
        "admin.page.channels_help": {
            "zh": "管理员设置的地址优先于环境变量。地址中常含密码和令牌,保存后只显示遮盖后的内容(***)。"
            "格式见 docs/channels.md。",
            "en": "An address set here wins over the environment variable. Addresses carry passwords and "
            "tokens, so once saved they are only shown masked (***). Formats: docs/channels.md.",
        },
        "admin.page.channel": {"zh": "渠道", "en": "Channel"},
        "admin.page.address": {"zh": "地址", "en": "Address"},
        "admin.page.source": {"zh": "来源", "en": "Source"},
        "admin.page.source.admin": {"zh": "管理员设置", "en": "Set by an admin"},
        "admin.page.source.env": {"zh": "环境变量", "en": "Environment"},
        "admin.page.source.unset": {"zh": "未配置", "en": "Not configured"},
        "admin.page.not_configured": {"zh": "未配置", "en": "Not configured"},
        "admin.page.env_value": {"zh": "环境变量中的值", "en": "The environment's"},
        "admin.page.set_address": {"zh": "设置地址", "en": "Set the address"},
        "admin.page.clear_confirm": {
            "zh": "清除 {name} 的管理员设置,改用环境变量?",
            "en": "Clear the admin's address of {name} and use the environment's?",
        },
        "admin.page.add_robot": {"zh": "添加 IM 机器人", "en": "Add an IM robot"},
        "admin.page.robot_name": {"zh": "机器人名称", "en": "Robot name"},
        "admin.page.url_placeholder.smtp": {
            "zh": "smtps://用户:密码@smtp.example.cn:465?from=noreply@example.cn",
            "en": "smtps://user:password@smtp.example.cn:465?from=noreply@example.cn",
        },
        "admin.page.url_placeholder.sms": {
            "zh": "https://sms.example.cn/send#secret=… 或 aliyun://…",
            "en": "https://sms.example.cn/send#secret=… or aliyun://…",
        },
        "admin.page.url_placeholder.hook": {
            "zh": "Webhook 签名密钥(保存后不再显示)",
            "en": "The webhook's signing secret (never shown again)",
        },
        "admin.page.add_hook": {
            "zh": "添加 Webhook 签名密钥(应用定义中写 secret_ref: 名称)",
            "en": "Add a webhook signing secret (the app definition says secret_ref: name)",
        },
        "admin.page.hook_name": {"zh": "密钥名称", "en": "Secret name"},
        "admin.page.url_placeholder.robot": {
            "zh": "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=…#secret=…",
            "en": "dingtalk+https://oapi.dingtalk.com/robot/send?access_token=…#secret=…",
        },
        # --- dead letters, rule runs, audit
        "admin.page.dead_help": {
            "zh": "用完重试次数或被对方永久拒绝的投递。修正原因(如渠道地址、用户邮箱)后勾选并重新发送。",
            "en": "Deliveries that ran out of attempts or were refused for good. Fix the cause (a channel "
            "address, a user's email), then select them and send again.",
        },
        "admin.page.ticket": {"zh": "工单", "en": "Ticket"},
        "admin.page.attempts": {"zh": "尝试次数", "en": "Attempts"},
        "admin.page.last_error": {"zh": "最后的错误", "en": "Last error"},
        "admin.page.retry_selected": {"zh": "重新发送所选", "en": "Send the selected again"},
        "admin.page.no_dead": {"zh": "没有死信。", "en": "No dead letters."},
        "admin.page.ticket_type": {"zh": "工单类型", "en": "Ticket type"},
        "admin.page.rule": {"zh": "规则", "en": "Rule"},
        "admin.page.trigger": {"zh": "触发", "en": "Trigger"},
        "admin.page.matched": {"zh": "条件成立", "en": "Matched"},
        "admin.page.actions": {"zh": "动作", "en": "Actions"},
        "admin.page.no_runs": {"zh": "没有规则运行记录。", "en": "No rule runs."},
        "admin.page.actor": {"zh": "操作人", "en": "Who"},
        "admin.page.action": {"zh": "操作", "en": "Action"},
        "admin.page.target": {"zh": "对象", "en": "Target"},
        "admin.page.details": {"zh": "详情", "en": "Details"},
        "admin.page.no_audit": {"zh": "还没有审计记录。", "en": "No audit entries yet."},
    }
)
