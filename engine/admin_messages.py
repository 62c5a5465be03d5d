"""The administration's messages (engine/admin.py), in Chinese and English."""

from engine.i18n import register

register(
    {
        # --- users
        "admin.user_not_found": {"zh": "用户 {ident} 不存在。", "en": "User {ident} does not exist."},
        "admin.username_taken": {
            "zh": "用户名 {username} 已被使用，请换一个。",
            "en": "The username {username} is taken; choose another.",
        },
        "admin.bad_username": {
            "zh": "用户名须为 1–64 个字母、数字或 . _ @ -。",
            "en": "A username is 1–64 letters, digits or . _ @ -.",
        },
        "admin.required": {"zh": "必填。", "en": "Required."},
        "admin.too_long": {"zh": "最多 {limit} 个字符。", "en": "At most {limit} characters."},
        "admin.bad_email": {"zh": "邮箱地址格式不正确。", "en": "Not an email address."},
        "admin.bad_phone": {
            "zh": "电话号码只能包含数字、空格、+ 和 -(最多 32 位)。",
            "en": "A phone number has only digits, spaces, + and - (at most 32).",
        },
        "admin.bad_lang": {"zh": "语言须为 zh 或 en。", "en": "The language is zh or en."},
        "admin.bad_tz": {
            "zh": "未知的时区 {tz}。请使用 IANA 时区名，如 Asia/Shanghai。",
            "en": "Unknown time zone {tz}. Use an IANA zone name such as Asia/Shanghai.",
        },
        "admin.no_department": {"zh": "部门 {ident} 不存在。", "en": "Department {ident} does not exist."},
        "admin.no_manager": {"zh": "上级 {ident} 不存在。", "en": "Manager {ident} does not exist."},
        "admin.own_manager": {"zh": "不能做自己的上级。", "en": "Nobody can be their own manager."},
        "admin.not_yourself": {
            "zh": "不能对自己的账户这样做(会把自己锁在管理之外)。请让另一位管理员操作。",
            "en": "You cannot do this to your own account (it would lock you out). Ask another admin.",
        },
        "admin.password_short": {
            "zh": "密码至少 {min} 个字符。",
            "en": "A password has at least {min} characters.",
        },
        "admin.password_wrong": {"zh": "当前密码不正确。", "en": "The current password is wrong."},
        "admin.scope_not_allowed": {
            "zh": "您不能创建带有 {scope} 权限的令牌。",
            "en": "You cannot create a token with the {scope} scope.",
        },
        "admin.token_not_found": {
            "zh": "令牌 {ident} 不存在或已撤销。",
            "en": "Token {ident} does not exist or is already revoked.",
        },
        # --- CSV import
        "admin.import_invalid": {
            "zh": "CSV 文件有 {count} 处错误，未写入任何内容。改正后重新上传：",
            "en": "The CSV file has {count} problems; nothing was written. Fix them and upload again:",
            "en.one": "The CSV file has 1 problem; nothing was written. Fix it and upload again:",
        },
        "admin.csv_encoding": {
            "zh": "无法识别文件编码。请以 UTF-8(或 GBK)保存为 CSV。",
            "en": "The file's encoding is not recognised. Save it as CSV in UTF-8 (or GBK).",
        },
        "admin.csv_empty": {
            "zh": "文件为空。第一行须为表头：username, display_name, email, phone, department, manager, roles。",
            "en": "The file is empty. The first row is the header: "
            "username, display_name, email, phone, department, manager, roles.",
        },
        "admin.csv_syntax": {"zh": "CSV 格式错误：{reason}", "en": "CSV syntax error: {reason}"},
        "admin.csv_too_many": {
            "zh": "一次最多导入 {limit} 行，请拆分文件。",
            "en": "At most {limit} rows per import; split the file.",
        },
        "admin.csv_unknown_column": {
            "zh": "未知的列 {column}。可用的列：{known}。",
            "en": "Unknown column {column}. The columns are: {known}.",
        },
        "admin.csv_no_username": {
            "zh": "缺少 username 列。",
            "en": "The username column is missing.",
        },
        "admin.csv_duplicate_column": {
            "zh": "列 {column} 重复。",
            "en": "The column {column} appears twice.",
        },
        "admin.csv_duplicate_user": {
            "zh": "用户名 {username} 在第 {row} 行已出现。",
            "en": "The username {username} already appears on row {row}.",
        },
        "admin.csv_extra_cells": {
            "zh": "这一行比表头多出 {count} 个单元格。",
            "en": "This row has {count} more cell(s) than the header.",
        },
        "admin.csv_no_manager": {
            "zh": "上级 {username} 既不是现有用户，也不在文件中。",
            "en": "The manager {username} is neither an existing user nor in the file.",
        },
        "admin.csv_bad_department": {
            "zh": "部门路径须为以 / 分隔的名称，如 客服部/一组(每级最多 100 个字符)。",
            "en": "A department is a path of names separated by /, like 客服部/一组 "
            "(each at most 100 characters).",
        },
        "admin.csv_bad_role": {
            "zh": "角色 {role} 不存在。格式为 应用：角色，多个用 ; 分隔，如 complaint:agent;it_ops:it_agent。",
            "en": "The role {role} does not exist. Write app:role, several separated by ;, "
            "like complaint:agent;it_ops:it_agent.",
        },
        # --- departments
        "admin.department_not_found": {
            "zh": "部门 {ident} 不存在。",
            "en": "Department {ident} does not exist.",
        },
        "admin.department_exists": {
            "zh": "同一上级部门下已有名为 {name} 的部门。",
            "en": "There is already a department called {name} under the same parent.",
        },
        "admin.department_slash": {
            "zh": "部门名称不能包含 /(/ 用来分隔路径)。",
            "en": "A department name cannot contain / (it separates paths).",
        },
        "admin.department_cycle": {
            "zh": "不能把部门移到它自己或它的下级部门之下。",
            "en": "A department cannot move under itself or one of its own sub-departments.",
        },
        "admin.department_in_use": {
            "zh": "部门 {name} 还有 {users} 名成员和 {children} 个下级部门，不能删除。请先移走他们。",
            "en": "The department {name} still has {users} member(s) and {children} sub-department(s); "
            "move them elsewhere first.",
        },
        # --- roles
        "admin.role_not_found": {
            "zh": "应用 {app} 没有角色 {role}。",
            "en": "The app {app} has no role {role}.",
        },
        "admin.member_duplicate": {
            "zh": "{user} 在成员列表中出现了两次。",
            "en": "{user} appears twice in the members.",
        },
        "admin.bad_weight": {
            "zh": "权重须为 1 到 100 的整数。",
            "en": "A weight is a whole number from 1 to 100.",
        },
        # --- apps
        "admin.import_body": {
            "zh": '请以 JSON {"definition": {...}} 发送定义，或以 multipart 上传 YAML 文件(字段 file)。',
            "en": 'Send the definition as JSON {"definition": {...}} or upload a YAML file '
            "(multipart, field file).",
        },
        "admin.wrong_app": {
            "zh": "文件定义的是应用 {found}，不是 {app}。",
            "en": "The file defines the app {found}, not {app}.",
        },
        "admin.version_not_found": {
            "zh": "应用 {app} 没有版本 {version}。",
            "en": "The app {app} has no version {version}.",
        },
        "admin.rule_filter": {
            "zh": "按规则筛选时须同时给出 app、ticket_type 和 rule。",
            "en": "To filter by rule, give app, ticket_type and rule together.",
        },
        "admin.too_many_ids": {
            "zh": "一次最多 {limit} 条。",
            "en": "At most {limit} at a time.",
        },
    }
)
