"""Every user-facing message, in Chinese and English. Each says what is wrong and what to do."""

from engine.i18n import register

register(
    {
        "where.line_col": {"zh": "第 {line} 行第 {column} 列", "en": "line {line}, column {column}"},
        "error.internal": {
            "zh": "内部错误，请联系管理员。",
            "en": "Internal error; please contact the administrator.",
        },
        "error.unavailable": {
            "zh": "数据库暂时无法访问，未写入任何内容。请几秒后重试；若持续出现，请联系管理员检查数据库。",
            "en": "The database cannot be reached right now; nothing was written. Try again in a few "
            "seconds; if this goes on, ask the administrator to check the database.",
        },
        "not_found": {"zh": "{what}不存在：{ident}", "en": "{what} not found: {ident}"},
        # --- names of things, for not_found's {what} (engine/errors.py NotFoundError)
        "what.ticket": {"zh": "工单", "en": "Ticket"},
        "what.task": {"zh": "待办", "en": "Task"},
        "what.view": {"zh": "视图", "en": "View"},
        "what.version": {"zh": "应用版本", "en": "App version"},
        "what.department": {"zh": "部门", "en": "Department"},
        "what.ticket_type": {"zh": "工单类型", "en": "Ticket type"},
        "what.user": {"zh": "用户", "en": "User"},
        "what.job": {"zh": "导入任务", "en": "Import job"},
        "what.token": {"zh": "令牌", "en": "Token"},
        "what.record": {"zh": "工单", "en": "Ticket"},
        # --- reading a definition file
        "definition.newer_format": {
            "zh": "此文件使用 Gongdan 定义格式第 {format} 版，而本系统只支持到第 {supported} 版。"
            "请先升级 Gongdan，再导入此文件。",
            "en": "This file uses Gongdan definition format {format}, but this installation reads format "
            "{supported} at most. Upgrade Gongdan, then import the file.",
        },
        "definition.invalid": {
            "zh": "应用定义 {name} 有 {count} 处错误，未写入任何内容：",
            "en": "App definition {name} has {count} problems; nothing was written:",
            "en.one": "App definition {name} has 1 problem; nothing was written:",
        },
        "source.too_large": {
            "zh": "文件有 {size} 字节，超过上限 {limit} 字节。请拆分应用或删除内嵌数据。",
            "en": "The file has {size} bytes, more than the limit of {limit}. Split the app or remove embedded data.",
        },
        "source.unreadable": {"zh": "无法读取文件 {file}：{reason}", "en": "Cannot read {file}: {reason}"},
        "source.not_utf8": {
            "zh": "文件不是 UTF-8 编码(第 {offset} 字节)。请以 UTF-8 保存后重试。",
            "en": "The file is not UTF-8 (byte {offset}). Save it as UTF-8 and try again.",
        },
        "source.syntax": {
            "zh": "YAML/JSON 语法错误：{reason}。请检查缩进、冒号和引号。",
            "en": "YAML/JSON syntax error: {reason}. Check indentation, colons and quotes.",
        },
        "source.empty": {
            "zh": "文件为空。请写入一个应用定义。",
            "en": "The file is empty. Write an app definition.",
        },
        "source.too_deep": {
            "zh": "嵌套超过 {limit} 层。应用定义不需要这么深，请检查是否误缩进。",
            "en": "Nested deeper than {limit} levels. A definition never needs that; check the indentation.",
        },
        "source.too_many_nodes": {
            "zh": "文件包含超过 {limit} 个值，过大。请拆分。",
            "en": "The file holds more than {limit} values; too large. Split it.",
        },
        "source.alias": {
            "zh": "不支持 YAML 别名(*name)。请直接写出内容。",
            "en": "YAML aliases (*name) are not supported. Write the content out.",
        },
        "source.merge_key": {
            "zh": "不支持 YAML 合并键(<<)。请直接写出内容。",
            "en": "YAML merge keys (<<) are not supported. Write the content out.",
        },
        "source.tag": {
            "zh": "不支持 YAML 标签 {tag}。请写普通的文本、数字或布尔值。",
            "en": "YAML tag {tag} is not supported. Write plain text, numbers or booleans.",
        },
        "source.bad_scalar": {
            "zh": "值 {value} 无法读取({reason})。请加引号写成文本或改正它。",
            "en": "Value {value} cannot be read ({reason}). Quote it as text or correct it.",
        },
        "source.complex_key": {"zh": "键必须是简单文本。", "en": "Keys must be plain text."},
        "source.duplicate_key": {
            "zh": "键 {key} 重复出现。请删除或合并其中一个。",
            "en": "Key {key} appears twice. Remove or merge one of them.",
        },
        # --- schema
        "schema.unknown_key": {
            "zh": "未知的键 {key}。允许的键：{allowed}。请检查拼写。",
            "en": "Unknown key {key}. Allowed here: {allowed}. Check the spelling.",
        },
        "schema.required": {
            "zh": "缺少必填的键 {key}。请补上。",
            "en": "Required key {key} is missing. Add it.",
        },
        "schema.type": {
            "zh": "类型错误：应为 {expected}，实际为 {actual}。",
            "en": "Wrong type: expected {expected}, got {actual}.",
        },
        "schema.enum": {
            "zh": "值 {value} 无效。可选值：{options}。",
            "en": "Value {value} is not allowed. Choose one of: {options}.",
        },
        "schema.pattern": {
            "zh": "值 {value} 格式不对(应匹配 {pattern})。{hint}",
            "en": "Value {value} has the wrong form (must match {pattern}). {hint}",
        },
        "schema.min_length": {
            "zh": "至少需要 {limit} 个字符。",
            "en": "Needs at least {limit} character(s).",
        },
        "schema.max_length": {"zh": "最多 {limit} 个字符。", "en": "At most {limit} character(s)."},
        "schema.minimum": {
            "zh": "值 {value} 小于下限 {limit}。",
            "en": "Value {value} is below the minimum {limit}.",
        },
        "schema.maximum": {
            "zh": "值 {value} 大于上限 {limit}。",
            "en": "Value {value} is above the maximum {limit}.",
        },
        "schema.min_items": {"zh": "至少需要 {limit} 项。", "en": "Needs at least {limit} item(s)."},
        "schema.max_items": {"zh": "最多 {limit} 项。", "en": "At most {limit} item(s)."},
        "schema.min_properties": {"zh": "至少需要 {limit} 个键。", "en": "Needs at least {limit} key(s)."},
        "schema.max_properties": {"zh": "最多 {limit} 个键。", "en": "At most {limit} key(s)."},
        "schema.unique_items": {
            "zh": "列表中有重复项。请删除重复。",
            "en": "The list has duplicates. Remove them.",
        },
        "schema.one_of": {
            "zh": "值 {value} 不符合 {title} 的任何一种写法。{hint}",
            "en": "Value {value} matches no accepted form of {title}. {hint}",
        },
        "schema.other": {"zh": "不符合格式要求：{detail}", "en": "Does not fit the format: {detail}"},
        # --- cross-reference checks
        "check.duplicate_field": {
            "zh": "字段键 {key} 重复(首次出现在 {first})。每个字段键必须唯一。",
            "en": "Field key {key} is used twice (first at {first}). Each field key must be unique.",
        },
        "check.duplicate_node": {
            "zh": "节点 id {id} 重复。每个节点 id 必须唯一。",
            "en": "Node id {id} is used twice. Each node id must be unique.",
        },
        "check.duplicate_report": {"zh": "报表 id {id} 重复。", "en": "Report id {id} is used twice."},
        "check.duplicate_webhook": {"zh": "Webhook id {id} 重复。", "en": "Webhook id {id} is used twice."},
        "check.inline_header_secret": {
            "zh": "请求头 {header} 携带凭据，应用定义中不能写明文。请在“管理 → 渠道”中把它保存为 hook.{name}"
            "(或设置环境变量 {env})，然后在这里写 ${{secrets.{name}}}(如 Bearer ${{secrets.{name}}})。",
            "en": "The header {header} carries a credential, which a definition never holds in clear. Store "
            "it as hook.{name} in Admin → Channels (or the variable {env}), then write ${{secrets.{name}}} "
            "here (e.g. Bearer ${{secrets.{name}}}).",
        },
        "check.url_query_secret": {
            "zh": "地址的参数 {param} 携带凭据，应用定义中不能写明文(它会出现在导出、草稿、差异和版本记录中)。"
            "请在“管理 → 渠道”中把它保存为 hook.{name}(或设置环境变量 {env})，然后写 "
            "{param}=${{secrets.{name}}}。",
            "en": "The URL's parameter {param} carries a credential, which a definition never holds in clear "
            "(it would show in exports, drafts, diffs and versions). Store it as hook.{name} in Admin → "
            "Channels (or the variable {env}), then write {param}=${{secrets.{name}}}.",
        },
        "check.url_userinfo_secret": {
            "zh": "地址在主机名前写了账号密码(user:password@)，应用定义中不能写明文。请在“管理 → 渠道”中把"
            "密码保存为 hook.{name}(或设置环境变量 {env})，然后写 https://用户名:${{secrets.{name}}}@…。",
            "en": "The URL holds a password before its host (user:password@), which a definition never holds "
            "in clear. Store it as hook.{name} in Admin → Channels (or the variable {env}), then write "
            "https://user:${{secrets.{name}}}@….",
        },
        "check.robot_url": {
            "zh": "这是{vendor_zh}群机器人的地址，其中的令牌属于渠道设置，不能写在应用定义中。请在“管理 → 渠道”中"
            "把整个地址保存为 robot.{name}(或设置环境变量 {env}={kind}+<地址>)，然后改用 "
            "notify: {{channel: {kind}, robot: {name}}} 发送。",
            "en": "This is a {vendor} group robot's address: its token belongs in the channel settings, not "
            "in a definition. Store the whole address as robot.{name} in Admin → Channels (or the variable "
            "{env}={kind}+<address>), then send with notify: {{channel: {kind}, robot: {name}}}.",
        },
        "check.query_secret": {
            "zh": "查询参数 {param} 携带凭据，应用定义中不能写明文常量。请在“管理 → 渠道”中把它保存为 "
            "hook.{name}(或设置环境变量 {env})，然后写 \"'${{secrets.{name}}}'\"(查询参数的值是表达式，"
            "所以要加引号)。引用字段(如 phone)没有问题。",
            "en": "The query parameter {param} carries a credential, which a definition never holds as a "
            "constant. Store it as hook.{name} in Admin → Channels (or the variable {env}), then write "
            "\"'${{secrets.{name}}}'\" (query values are expressions, hence the quotes). Naming a field "
            "(such as phone) is fine.",
        },
        "check.query_secret_unquoted": {
            "zh": "查询参数的值是表达式：请把 ${{secrets.{name}}} 写在引号中，即 \"'${{secrets.{name}}}'\"。",
            "en": "Query values are expressions: write ${{secrets.{name}}} in quotes, as "
            "\"'${{secrets.{name}}}'\".",
        },
        "check.body_secret": {
            "zh": "请求体中的 {key} 携带凭据，应用定义中不能写明文。请在“管理 → 渠道”中把它保存为 hook.{name}"
            "(或设置环境变量 {env})，然后写 {key}: ${{secrets.{name}}}。",
            "en": "The body's {key} carries a credential, which a definition never holds in clear. Store it "
            "as hook.{name} in Admin → Channels (or the variable {env}), then write "
            "{key}: ${{secrets.{name}}}.",
        },
        "check.setting_secret": {
            "zh": "设置 {key} 看起来是凭据，应用定义中不能写明文。请在“管理 → 渠道”中把它保存为 hook.{name}"
            "(或设置环境变量 {env})，然后写 {key}: ${{secrets.{name}}}。",
            "en": "The setting {key} looks like a credential, which a definition never holds in clear. Store "
            "it as hook.{name} in Admin → Channels (or the variable {env}), then write "
            "{key}: ${{secrets.{name}}}.",
        },
        "check.inline_secret": {
            "zh": "应用定义中不能写明文密钥(它会出现在导出、草稿、差异和版本记录中)。请在“管理 → 渠道”中"
            "把它保存为 hook.{name}(或设置环境变量 {env})，然后把这一行改为 secret_ref: {name}。",
            "en": "A definition never holds a secret in clear (it would show in exports, drafts, diffs and "
            "versions). Store it as hook.{name} in Admin → Channels (or the variable {env}), then write "
            "secret_ref: {name} instead of this line.",
        },
        "check.option_not_for_type": {
            "zh": "选项 {option} 不适用于 {type} 类型的字段。请删除它或更换字段类型。",
            "en": "Option {option} does not apply to a {type} field. Remove it or change the field type.",
        },
        "check.option_missing": {
            "zh": "{type} 类型的字段需要 {options}。",
            "en": "A {type} field needs {options}.",
        },
        "check.unknown_option_set": {
            "zh": "选项集 {name} 不存在。请在 option_sets 中定义它。",
            "en": "Option set {name} does not exist. Define it under option_sets.",
        },
        "check.min_above_max": {
            "zh": "下限 {min} 大于上限 {max}。",
            "en": "Minimum {min} is above maximum {max}.",
        },
        "check.bad_regex": {"zh": "正则表达式无效：{reason}", "en": "Invalid regular expression: {reason}"},
        "check.number_token": {
            "zh": "编号规则中的 {{{token}}} 无效。可用：{{yyyy}} {{yyyyMM}} {{yyyyMMdd}} {{seq:N}}。",
            "en": "Number pattern token {{{token}}} is unknown. Use {{yyyy}} {{yyyyMM}} {{yyyyMMdd}} {{seq:N}}.",
        },
        "check.number_needs_seq": {
            "zh": "编号规则必须包含 {{seq:N}}，否则编号会重复。",
            "en": "The number pattern needs a {{seq:N}} token, or numbers would repeat.",
        },
        "check.one_start": {
            "zh": "流程必须恰好有一个 start 节点(现有 {count} 个)。",
            "en": "A flow needs exactly one start node (it has {count}).",
        },
        "check.no_end": {"zh": "流程没有 end 节点。请添加一个。", "en": "The flow has no end node. Add one."},
        "check.unknown_node": {
            "zh": "节点 {id} 不存在。已有节点：{known}。",
            "en": "Node {id} does not exist. Known nodes: {known}.",
        },
        "check.unknown_field": {
            "zh": "字段 {field} 不存在于表单中。请检查拼写或先添加该字段。",
            "en": "Field {field} is not on the form. Check the spelling or add the field first.",
        },
        "check.unknown_role": {
            "zh": "角色 {role} 未定义。已有角色：{known}。请在 roles 中定义。",
            "en": "Role {role} is not defined. Known roles: {known}. Define it under roles.",
        },
        "check.unknown_report": {
            "zh": "报表 {id} 不存在。已有报表：{known}。",
            "en": "Report {id} does not exist. Known reports: {known}.",
        },
        "check.unknown_ticket_type": {
            "zh": "工单类型 {name} 不存在。",
            "en": "Ticket type {name} does not exist.",
        },
        "check.assignee_one_kind": {
            "zh": "处理人必须恰好指定一种方式：{kinds}。",
            "en": "An assignee names exactly one of: {kinds}.",
        },
        "check.assignee_field_not_user": {
            "zh": "字段 {field} 是 {type} 类型，不能作为处理人。请使用 user 类型的字段。",
            "en": "Field {field} is a {type} field and cannot name an assignee. Use a user field.",
        },
        "check.action_one_kind": {
            "zh": "每个动作必须恰好是以下之一：{kinds}。",
            "en": "Each action must be exactly one of: {kinds}.",
        },
        "check.map_needs_call": {
            "zh": "map 只能与 call 一起使用。",
            "en": "map can only be used together with call.",
        },
        # --- forms
        "form.invalid": {
            "zh": "表单有 {count} 处错误，未保存：",
            "en": "The form has {count} problems; nothing was saved:",
            "en.one": "The form has 1 problem; nothing was saved:",
        },
        "form.not_an_object": {"zh": "应为一组字段值。", "en": "Expected an object of field values."},
        "form.unknown_field": {
            "zh": "表单中没有字段 {field}。请删除它。",
            "en": "The form has no field {field}. Remove it.",
        },
        "form.readonly_field": {
            "zh": "字段 {field} 为只读或自动计算，不能填写。",
            "en": "Field {field} is read-only or computed; it cannot be filled in.",
        },
        "form.formula_failed": {
            "zh": "公式 {field} 计算失败：{reason}",
            "en": "Formula {field} could not be computed: {reason}",
        },
        "form.condition_failed": {
            "zh": "字段 {field} 的条件计算失败：{reason}",
            "en": "The condition of field {field} could not be evaluated: {reason}",
        },
        "check.formula_cycle": {
            "zh": "公式互相引用，形成循环：{cycle}。请打破循环。",
            "en": "Formulas refer to each other in a cycle: {cycle}. Break the cycle.",
        },
        "form.not_unique": {
            "zh": "{field} 的值已被另一张工单使用，必须唯一。请检查是否重复提交。",
            "en": "The value of {field} is already used by another ticket and must be unique. Is this a duplicate?",
        },
        "form.check_failed": {"zh": "{message}", "en": "{message}"},
        "form.reference_missing": {
            "zh": "{field} 引用的 {ids} 不存在或已停用。请重新选择。",
            "en": "{field} refers to {ids}, which does not exist or is inactive. Choose again.",
        },
        "form.field_locked": {
            "zh": "字段 {field} 在当前环节不可修改({level})。",
            "en": "Field {field} cannot be changed at this stage ({level}).",
        },
        "form.required": {"zh": "{field} 为必填项。", "en": "{field} is required."},
        "field.not_text": {"zh": "请输入文本。", "en": "Enter text."},
        "field.nul": {
            "zh": "文本中不能含有 NUL 控制字符，请删除后重试。",
            "en": "The text contains a NUL control character; remove it and try again.",
        },
        "field.too_long": {
            "zh": "最多 {max} 个字符(当前 {length} 个)。",
            "en": "At most {max} characters (now {length}).",
        },
        "field.too_short": {
            "zh": "至少 {min} 个字符(当前 {length} 个)。",
            "en": "At least {min} characters (now {length}).",
        },
        "field.pattern": {
            "zh": "格式不正确(应匹配 {pattern})。",
            "en": "Wrong format (must match {pattern}).",
        },
        "field.email": {"zh": "请输入有效的邮箱地址。", "en": "Enter a valid e-mail address."},
        "field.phone": {"zh": "请输入有效的电话号码。", "en": "Enter a valid phone number."},
        "field.url": {
            "zh": "请输入以 http:// 或 https:// 开头的网址。",
            "en": "Enter a URL starting with http:// or https://.",
        },
        "field.not_number": {"zh": "请输入数字。", "en": "Enter a number."},
        "field.not_integer": {"zh": "请输入整数。", "en": "Enter a whole number."},
        "field.number_too_big": {
            "zh": "数字过大(绝对值须小于 {max})。",
            "en": "The number is too large (it must stay below {max}).",
        },
        "field.too_precise": {"zh": "最多 {places} 位小数。", "en": "At most {places} decimal places."},
        "field.too_small": {"zh": "不能小于 {min}。", "en": "Must be at least {min}."},
        "field.too_large": {"zh": "不能大于 {max}。", "en": "Must be at most {max}."},
        "field.rating_range": {"zh": "评分应在 0 到 {max} 之间。", "en": "A rating is between 0 and {max}."},
        "field.date": {"zh": "请输入日期，如 2026-12-01。", "en": "Enter a date such as 2026-12-01."},
        "field.datetime": {
            "zh": "请输入日期时间，如 2026-12-01T09:00+08:00。",
            "en": "Enter a date and time such as 2026-12-01T09:00+08:00.",
        },
        "field.datetime_zone": {
            "zh": "日期时间需要带时区，如 +08:00。",
            "en": "A date and time needs its time zone, such as +08:00.",
        },
        "field.boolean": {"zh": "请选择是或否。", "en": "Choose yes or no."},
        "field.not_an_option": {
            "zh": "{value} 不是可选项。可选：{options}。",
            "en": "{value} is not one of the options: {options}.",
        },
        "field.option_not_offered": {
            "zh": "{value} 在当前情况下不可选。可选：{options}。",
            "en": "{value} is not offered with the other answers given. Offered: {options}.",
        },
        "field.not_a_list": {"zh": "应为列表。", "en": "Expected a list."},
        "field.cascade_path": {
            "zh": '请按层级选择，如 ["硬件", "打印机"]。',
            "en": 'Choose level by level, e.g. ["hardware", "printer"].',
        },
        "field.reference": {"zh": "请选择一项(编号)。", "en": "Choose an item (by its id)."},
        "field.file": {"zh": "请先上传文件。", "en": "Upload the file first."},
        "field.one_file": {"zh": "只能上传一个文件。", "en": "Only one file is allowed."},
        "field.file_too_large": {
            "zh": "{name}({size_mb} MB)超过 {max_mb} MB 的上限。请压缩或拆分后再上传。",
            "en": "{name} ({size_mb} MB) is larger than the {max_mb} MB limit. Compress or split it.",
        },
        "field.too_few_rows": {"zh": "至少需要 {min} 行。", "en": "Needs at least {min} row(s)."},
        "field.too_many_rows": {"zh": "最多 {max} 行。", "en": "At most {max} row(s)."},
        "field.computed": {
            "zh": "该字段自动计算，不能填写。",
            "en": "This field is computed; it cannot be filled in.",
        },
        "field.rows_invalid": {"zh": "明细行有错误。", "en": "Some rows have problems."},
        # --- expressions
        "expr.invalid": {"zh": "表达式无效。", "en": "The expression is not valid."},
        "expr.empty": {"zh": "表达式为空。", "en": "The expression is empty."},
        "expr.syntax": {
            "zh": "表达式 {source} 第 {column} 列语法错误：{detail}",
            "en": "Syntax error in {source} at column {column}: {detail}",
        },
        "expr.not_allowed": {
            "zh": "表达式不允许使用 {construct}(第 {column} 列)。",
            "en": "{construct} is not allowed in expressions (column {column}).",
        },
        "expr.private_name": {
            "zh": "名称 {name} 以下划线开头，不允许使用(第 {column} 列)。",
            "en": "Name {name} starts with an underscore and is not allowed (column {column}).",
        },
        "expr.method_call": {
            "zh": "只能调用函数(如 lower(x))，不能调用方法(如 x.lower())(第 {column} 列)。",
            "en": "Only functions can be called (lower(x)), not methods (x.lower()) (column {column}).",
        },
        "expr.unknown_function": {
            "zh": "未知函数 {name}(第 {column} 列)。可用：{known}。",
            "en": "Unknown function {name} (column {column}). Available: {known}.",
        },
        "expr.arg_count": {
            "zh": "函数 {name} 的参数个数不对({count} 个)(第 {column} 列)。",
            "en": "Function {name} does not take {count} argument(s) (column {column}).",
        },
        "expr.constant_pattern": {
            "zh": "{name} 的正则表达式必须直接写成文本(第 {column} 列)。",
            "en": "The pattern of {name} must be written as literal text (column {column}).",
        },
        "expr.bad_regex": {
            "zh": "正则表达式不可用：{reason}(第 {column} 列)。",
            "en": "Unusable regular expression: {reason} (column {column}).",
        },
        "expr.one_loop": {
            "zh": "推导式只能有一个 for，且不能嵌套在另一个推导式中(第 {column} 列)。",
            "en": "A comprehension has one for and cannot sit inside another one (column {column}).",
        },
        "expr.too_long": {
            "zh": "文本或列表过长(上限 {limit})。",
            "en": "Text or list too long (limit {limit}).",
        },
        "expr.too_deep": {
            "zh": "表达式嵌套过深(上限 {limit} 层)。请拆分。",
            "en": "The expression is nested too deeply (limit {limit}). Split it.",
        },
        "expr.too_big": {
            "zh": "表达式过大(上限 {limit} 个节点)。请拆分。",
            "en": "The expression is too big (limit {limit} nodes). Split it.",
        },
        "expr.power_too_big": {
            "zh": "乘方过大(指数上限 {limit})。",
            "en": "Power too large (exponent limit {limit}).",
        },
        "expr.text_format": {
            "zh": "不能用 % 格式化文本。请用 + 拼接，如 'P' + str(n)。",
            "en": "Text cannot be formatted with %. Join with +, as in 'P' + str(n).",
        },
        "expr.unknown_calendar": {
            "zh": "未知的工作日历 {name}。可用：{known}。",
            "en": "Unknown business calendar {name}. Available: {known}.",
        },
        "expr.list_repeat": {"zh": "列表不能用 * 重复。", "en": "Lists cannot be repeated with *."},
        "expr.not_text": {"zh": "这里需要文本，实际是 {value}。", "en": "Text is needed here, not {value}."},
        "expr.number_too_big": {"zh": "数字过大。", "en": "The number is too large."},
        "expr.division_by_zero": {"zh": "除数为零。", "en": "Division by zero."},
        "expr.not_a_list": {
            "zh": "这里需要列表，实际是 {value}。",
            "en": "A list is needed here, not {value}.",
        },
        "expr.no_attribute": {
            "zh": "{value} 没有属性 {attribute}。",
            "en": "A {value} has no attribute {attribute}.",
        },
        "expr.bad_index": {"zh": "{value} 不能用下标取值。", "en": "A {value} cannot be indexed."},
        "expr.runtime": {
            "zh": "计算 {source} 时出错：{detail}",
            "en": "Evaluating {source} failed: {detail}",
        },
        "expr.unknown_name": {
            "zh": "未知名称 {name}(第 {column} 列)。可用：{known}。",
            "en": "Unknown name {name} (column {column}). Known: {known}.",
        },
        "expr.unknown_attribute": {
            "zh": "未知属性 {name}(第 {column} 列)。可用：{known}。",
            "en": "Unknown attribute {name} (column {column}). Known: {known}.",
        },
        "expr.type_mismatch": {
            "zh": "类型不匹配：{left} 与 {right}(第 {column} 列)。例如文本不能与数字比较。",
            "en": "Types do not match: {left} and {right} (column {column}); text cannot be compared with a number.",
        },
        "expr.not_an_option": {
            "zh": "{value} 不是可选值(第 {column} 列)，条件永远不成立。可选：{options}。",
            "en": "{value} is not an option (column {column}), so this can never be true. Options: {options}.",
        },
        "expr.not_a_condition": {
            "zh": "这里需要条件(真/假)，表达式得到的是 {type}。",
            "en": "A condition (true/false) is needed here; this expression gives {type}.",
        },
        # --- runtime
        "record.conflict": {
            "zh": "工单 {number} 已被他人修改(您的版本 {expected}，当前 {actual})。请刷新后重试。",
            "en": "Ticket {number} was changed by someone else (your version {expected}, now {actual}). "
            "Reload and try again.",
        },
        "flow.action_not_allowed": {
            "zh": "待办 {task} 当前状态为 {status}，不能执行 {action}。",
            "en": "Task {task} is {status}; {action} is not possible now.",
        },
        "flow.loop": {
            "zh": "流程在节点 {node} 附近无限循环。请检查流程图中不等待任何人的环路。",
            "en": "The flow loops forever around node {node}. Check the graph for a cycle that waits for no one.",
        },
        "comment.empty": {"zh": "评论不能为空。", "en": "A comment cannot be empty."},
        "comment.internal_staff_only": {
            "zh": "只有该应用的处理人员和管理员可以写内部备注；请去掉“内部备注”再发表评论。",
            "en": "Only the app's staff and admins may write an internal note; untick “internal note” to "
            "post a comment.",
        },
        "flow.unknown_action": {
            "zh": "未知的操作 {action}。可用：{known}。",
            "en": "Unknown action {action}. Available: {known}.",
        },
        "runtime.unknown_app": {
            "zh": "应用 {app} 不存在。请先导入它(gongdan import)。",
            "en": "App {app} does not exist. Import it first (gongdan import).",
        },
        "runtime.unknown_ticket_type": {
            "zh": "应用 {app} 没有工单类型 {ticket_type}。可用：{known}。",
            "en": "App {app} has no ticket type {ticket_type}. Available: {known}.",
        },
        "runtime.stage_missing": {
            "zh": "版本 {version} 的流程中没有工单当前所在的环节 {stage}，无法迁移。请先办结该环节。",
            "en": "The flow of version {version} has no stage {stage}, where the ticket is now; finish that stage first.",
        },
        "runtime.unknown_user": {"zh": "用户 {user} 不存在。", "en": "User {user} does not exist."},
        # --- HTTP
        "input.invalid": {"zh": "请求无法解析。", "en": "The request cannot be understood."},
        "api.body_not_object": {
            "zh": "请求体应为 JSON 对象。",
            "en": "The request body must be a JSON object.",
        },
        "http.400": {"zh": "请求无效。", "en": "Bad request."},
        "http.404": {"zh": "没有这个地址。", "en": "No such address."},
        "http.405": {"zh": "该地址不支持此方法。", "en": "This method is not allowed here."},
        "http.413": {"zh": "请求太大。", "en": "The request is too large."},
        "http.413_limit": {
            "zh": "请求太大：最多 {limit_mb} MB。请缩小或拆分后重试。",
            "en": "The request is too large: at most {limit_mb} MB. Make it smaller or split it, then retry.",
        },
        # --- what ending a ticket does, asked before it is done (server/templates/pages/ticket.html)
        "ticket.confirm_close": {
            "zh": "关闭工单 {number}?未完成的待办将被取消，流程就此结束(之后仍可重新打开)。",
            "en": "Close ticket {number}? Its open tasks are cancelled and its flow ends (it can be reopened "
            "later).",
        },
        "ticket.confirm_cancel": {
            "zh": "取消工单 {number}?未完成的待办将被取消，工单不再处理，且不能重新打开。",
            "en": "Cancel ticket {number}? Its open tasks are cancelled and nobody works on it any more; it "
            "cannot be reopened.",
        },
        # --- drill-down list of a report (server/templates/pages/dashboard_drill.html)
        "drill.title": {"zh": "“{report}”中的工单", "en": "Tickets in “{report}”"},
        "drill.count.one": {"zh": "共 {count} 张工单", "en": "{count} ticket"},
        "drill.count.other": {"zh": "共 {count} 张工单", "en": "{count} tickets"},
        # --- web pages
        "web.tagline": {
            "zh": "元数据驱动的无代码工单平台：表单、流程、规则、报表，全部由应用定义描述。",
            "en": "A metadata-driven no-code ticket platform: forms, flows, rules and reports, all described by app definitions.",
        },
        "web.running": {"zh": "运行中，数据库：{database}", "en": "Running, database: {database}"},
        "web.apps": {"zh": "已发布的应用", "en": "Published apps"},
        "web.app_key": {"zh": "标识", "en": "Key"},
        "web.app_name": {"zh": "名称", "en": "Name"},
        "web.app_version": {"zh": "运行版本", "en": "Running version"},
        "web.no_apps": {"zh": "还没有应用。导入随附的应用：", "en": "No apps yet. Import the shipped ones:"},
        "web.for_integrators": {"zh": "集成接口", "en": "For integrators"},
        "web.schema": {"zh": "应用定义格式的 JSON Schema", "en": "JSON Schema of the app-definition format"},
        # --- CLI
        "cli.not_migrated": {
            "zh": "数据库 {url} 尚未初始化或需要升级。请先运行 gongdan init(或 gongdan migrate)。",
            "en": "The database {url} is not set up or needs an upgrade. Run gongdan init (or gongdan migrate) first.",
        },
        "cli.valid": {"zh": "{file}：有效", "en": "{file}: valid"},
        "cli.bad_moment": {
            "zh": "无法识别时间 {value}，请使用 ISO 8601 格式，例如 2026-11-20T10:00。",
            "en": "Cannot read the moment {value}; use ISO 8601, e.g. 2026-11-20T10:00.",
        },
        "cli.imported": {
            "zh": "已发布 {app} 版本 {version}。",
            "en": "Published {app} version {version}.",
        },
        "cli.unchanged": {
            "zh": "{app} 与运行中的版本 {version} 相同，未发布新版本。",
            "en": "{app} is the same as running version {version}; no new version published.",
        },
        "cli.dry_run": {
            "zh": "试运行：{app} 将发布为版本 {version}(未写入任何内容)。",
            "en": "Dry run: {app} would be published as version {version} (nothing written).",
        },
        "cli.admin_created": {
            "zh": "已创建管理员 {user}，密码：{password}(仅显示这一次)",
            "en": "Created admin {user} with password: {password} (shown only this once)",
        },
        "cli.admin_exists": {
            "zh": "管理员 {user} 已存在；忘记密码请运行 gongdan user password {user}",
            "en": "Admin {user} exists; forgot the password? Run: gongdan user password {user}",
        },
        "cli.password_set": {"zh": "{user} 的新密码：{password}", "en": "New password of {user}: {password}"},
        "cli.no_changes": {"zh": "没有变化。", "en": "No changes."},
        "cli.dead_line": {
            "zh": "#{id}  {channel}  工单 {record_id}  尝试 {attempts} 次  {last_error}",
            "en": "#{id}  {channel}  ticket {record_id}  {attempts} tries  {last_error}",
        },
        "cli.no_dead_letters": {"zh": "没有投递失败的消息。", "en": "No dead letters."},
        "cli.retried": {"zh": "#{id} 将重新投递。", "en": "#{id} will be sent again."},
        "cli.not_dead": {
            "zh": "#{id} 不是投递失败的消息(可能已重发或不存在)，未做改动。",
            "en": "#{id} is not a dead letter (already re-sent, or no such row); nothing changed.",
        },
        "cli.bad_json": {
            "zh": '--data 不是有效的 JSON:{detail}。例如 --data \'{{"priority": "P1"}}\'。',
            "en": '--data is not valid JSON: {detail}. For example --data \'{{"priority": "P1"}}\'.',
        },
        "cli.replay_line": {
            "zh": "{rule}：命中 {tickets_matched} 张工单，{events_matched}/{events_met} 个事件；动作 {actions_text}；例如 {examples_text}",
            "en": "{rule}: {tickets_matched} tickets matched, {events_matched}/{events_met} events; actions {actions_text}; e.g. {examples_text}",
        },
        "cli.database_ready": {"zh": "数据库已就绪：{url}", "en": "Database ready: {url}"},
        "cli.app_line": {"zh": "{key} 版本 {version}  {name}", "en": "{key} v{version}  {name}"},
        "cli.version_line": {
            "zh": "  版本 {version}  {at}  {checksum}",
            "en": "  v{version}  {at}  {checksum}",
        },
        "cli.version_line.running": {
            "zh": "* 版本 {version}  {at}  {checksum}(运行中)",
            "en": "* v{version}  {at}  {checksum} (running)",
        },
        "cli.rule_matched": {
            "zh": "✓ {rule}  [{trigger}]  执行：{actions}",
            "en": "✓ {rule}  [{trigger}]  does: {actions}",
        },
        "cli.rule_not_matched": {
            "zh": "· {rule}  [{trigger}]  条件不成立",
            "en": "· {rule}  [{trigger}]  condition not met",
        },
        "cli.no_actions": {"zh": "无", "en": "nothing"},
        "cli.would_send": {"zh": "→ 将发送到 {channel}", "en": "→ would send by {channel}"},
        "cli.demo_people": {
            "zh": "演示用户(在 /login 登录，密码都是 demo)：",
            "en": "Demo people (sign in at /login; the password is demo for all):",
        },
        "cli.demo_login": {"zh": "  {user} {name} — {does}", "en": "  {user} {name} — {does}"},
        "cli.app_roles": {"zh": "{app}：{roles}", "en": "{app}: {roles}"},
        "cli.list_sep": {"zh": "、", "en": ", "},
        "cli.app_sep": {"zh": ";", "en": "; "},
        "cli.customer": {"zh": "客户(没有角色)", "en": "customer (no role)"},
        "demo.no_apps": {
            "zh": "还没有加载任何应用；请先运行 `gongdan import app_definitions/*.yaml`",
            "en": "no apps loaded; run `gongdan import app_definitions/*.yaml` first",
        },
        "demo.people_in": {
            "zh": "演示：{users} 位用户(密码 demo)，应用 {apps}",
            "en": "demo: {users} users (password: demo) in {apps}",
        },
        "demo.tickets_in": {
            "zh": "演示：{users} 位用户(密码 demo)，{tickets} 张工单，应用 {apps}",
            "en": "demo: {users} users (password: demo), {tickets} tickets in {apps}",
        },
        "demo.progress": {"zh": "演示工单", "en": "demo tickets"},
        "demo.progress_bulk": {"zh": "演示工单(批量)", "en": "demo tickets (bulk)"},
        "demo.bulk_done": {
            "zh": "演示：{tickets} 张工单(其中 {walked} 张走完流程，{left} 张克隆；{written} 行，"
            "用时 {seconds} 秒：每秒 {per_ticket} 张工单、{per_row} 行)",
            "en": "demo: {tickets} tickets ({walked} walked through their flows, {left} cloned; {written} rows "
            "in {seconds} s: {per_ticket} tickets/s, {per_row} rows/s)",
        },
        "cli.serving": {
            "zh": "Gongdan 已启动：{url}(用上面显示的账号登录；健康检查：{url}/healthz)",
            "en": "Gongdan is up: {url} (sign in with the login shown above; health: {url}/healthz)",
        },
        "cli.backup_written": {
            "zh": "备份已写入 {dest}({kind}，数据库结构 {revision}，{tickets} 张工单，{files} 个文件)",
            "en": "Backup written: {dest} ({kind}, schema {revision}, {tickets} tickets, {files} files)",
        },
        "cli.restored": {
            "zh": "已从 {src} 恢复(备份于 {made})，数据库结构已是最新。",
            "en": "Restored from {src} (made {made}); the schema is now up to date.",
        },
        "cli.import_row": {
            "zh": "  第 {row} 行 [{column}]：{message}",
            "en": "  row {row} [{column}]: {message}",
        },
        "cli.import_more_rows": {
            "zh": "  … 共 {count} 行有问题",
            "en": "  … {count} rows with problems in all",
        },
        "cli.import_job": {"zh": "导入任务 {id}：{summary}", "en": "Import job {id}: {summary}"},
        "cli.tickets_written": {
            "zh": "已把 {count} 张工单写入 {output}",
            "en": "{count} tickets written to {output}",
        },
        "cli.diff_header": {
            "zh": "与运行中版本 {version} 的差异：",
            "en": "Changes against running version {version}:",
        },
    }
)
