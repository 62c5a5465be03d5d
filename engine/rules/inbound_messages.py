"""Messages of inbound channels (a message becomes a ticket), their definition checks, the inbound HTTP
endpoint and the mail-in poller, in Chinese and English. Each says what is wrong and what to do.
"""

from engine.i18n import register

register(
    {
        # --- a message that cannot become a ticket
        "inbound.bad_message": {
            "zh": "收到的消息无法处理:{reason}。请按 docs/inbound.md 中的消息格式发送。",
            "en": "The message cannot be processed: {reason}. Send it in the message format of docs/inbound.md.",
        },
        "inbound.reason.not_object": {"zh": "{field} 不是 JSON 对象", "en": "{field} is not a JSON object"},
        "inbound.reason.unknown_channel": {
            "zh": "渠道 {channel} 未知(可用:{known})",
            "en": "the channel {channel} is unknown (known: {known})",
        },
        "inbound.reason.no_message_id": {
            "zh": "缺少 message_id(发送方的消息编号,用于去重)",
            "en": "message_id (the sender's id of the message, used to drop duplicates) is missing",
        },
        "inbound.reason.too_long": {
            "zh": "{field} 超过 {limit} 个字符",
            "en": "{field} is longer than {limit} characters",
        },
        "inbound.reason.not_text": {"zh": "{field} 应为文本", "en": "{field} must be text"},
        "inbound.reason.not_list": {"zh": "{field} 应为文本列表", "en": "{field} must be a list of texts"},
        "inbound.reason.bad_time": {
            "zh": "received_at 不是 ISO 8601 时间(例如 2026-12-01T09:00:00+08:00)",
            "en": "received_at is not an ISO 8601 time (e.g. 2026-12-01T09:00:00+08:00)",
        },
        "inbound.reason.empty": {
            "zh": "消息没有标题也没有正文",
            "en": "the message has neither a subject nor a body",
        },
        "inbound.too_large": {
            "zh": "{what} 有 {size} 字节,超过上限 {limit} 字节,未受理。请缩短内容,大文件请作为附件在工单中上传。",
            "en": "{what} has {size} bytes, more than the limit of {limit}; it was not accepted. "
            "Shorten it; upload large files to the ticket instead.",
        },
        "inbound.no_mapping": {
            "zh": "应用 {app} 没有接收 {channel} 渠道消息(收件方:{to})的设置。"
            "请在应用定义的 inbound 中为该渠道添加一项(match.to 可选)。",
            "en": "App {app} has no inbound entry for messages on {channel} (addressed to: {to}). "
            "Add an entry for that channel to the app definition's inbound list (match.to is optional).",
        },
        "inbound.unknown_channel": {
            "zh": "没有名为 {channel} 的接收渠道。可用的渠道:{known}。",
            "en": "There is no inbound channel called {channel}. Known channels: {known}.",
        },
        # --- the HTTP endpoint: authentication and limits
        "inbound.not_configured": {
            "zh": "该接收地址尚未配置密钥,请求已拒绝。请管理员设置环境变量 {setting} 后重启服务。",
            "en": "This inbound endpoint has no secret configured, so the request was refused. "
            "An administrator sets the environment variable {setting} and restarts the server.",
        },
        "inbound.no_signature": {
            "zh": "请求缺少签名({header}),已拒绝。请按 docs/inbound.md 用共享密钥签名后重发。",
            "en": "The request has no signature ({header}) and was refused. "
            "Sign it with the shared secret as docs/inbound.md describes and send it again.",
        },
        "inbound.bad_signature": {
            "zh": "请求签名不正确,已拒绝。请检查发送方使用的密钥与本服务配置的 {setting} 是否一致,并对原始请求体签名。",
            "en": "The request's signature is wrong and it was refused. Check that the sender's secret "
            "equals {setting} here and that it signs the exact request body.",
        },
        "inbound.stale": {
            "zh": "请求时间戳与服务器时间相差 {age} 秒,超过允许的 {window} 秒,按重放请求拒绝。"
            "请检查发送方时钟,并每次发送时使用当前时间戳。",
            "en": "The request's timestamp is {age} s away from the server's clock, more than the {window} s "
            "allowed, so it was refused as a replay. Check the sender's clock and stamp each request anew.",
        },
        "inbound.bad_timestamp": {
            "zh": "请求时间戳 {value} 不是整数秒(钉钉为毫秒),已拒绝。",
            "en": "The request's timestamp {value} is not a whole number of seconds (milliseconds for "
            "DingTalk); the request was refused.",
        },
        "inbound.bad_token": {
            "zh": "飞书事件的 Verification Token 不正确,已拒绝。请把飞书开发者后台的 Verification Token 设为 {setting}。",
            "en": "The Feishu event's verification token is wrong; the request was refused. "
            "Set {setting} to the Verification Token shown in the Feishu developer console.",
        },
        "inbound.bad_json": {
            "zh": "请求体不是合法的 UTF-8 JSON:{reason}。",
            "en": "The request body is not valid UTF-8 JSON: {reason}.",
        },
        "inbound.feishu_encrypted": {
            "zh": "收到加密的飞书事件,目前不支持解密。请在飞书开发者后台清空 Encrypt Key,改用 Verification Token 校验。",
            "en": "An encrypted Feishu event arrived; decrypting is not supported. Clear the Encrypt Key in "
            "the Feishu developer console and rely on the Verification Token.",
        },
        "inbound.robot.created": {
            "zh": "已受理,工单号 {number}。",
            "en": "Received: ticket {number}.",
        },
        "inbound.robot.commented": {
            "zh": "已补充到工单 {number}。",
            "en": "Added to ticket {number}.",
        },
        # --- definition checks of the inbound list
        "check.inbound.unknown_type": {
            "zh": "接收设置指向的工单类型 {name} 不存在。可用:{known}。",
            "en": "The inbound entry names the ticket type {name}, which does not exist. Known: {known}.",
        },
        "check.inbound.unknown_field": {
            "zh": "工单类型 {ticket_type} 的表单没有字段 {field}。请改为表单中的字段:{known}。",
            "en": "The form of ticket type {ticket_type} has no field {field}. Map one of its fields: {known}.",
        },
        "check.inbound.computed_field": {
            "zh": "字段 {field}({type})由系统计算,不能由消息填写。请删除这一项。",
            "en": "The field {field} ({type}) is computed by the system and cannot be filled from a message. "
            "Remove this entry.",
        },
        "check.inbound.unreachable": {
            "zh": "这一项永远不会被使用:前面的 {earlier} 已接收 {channel} 渠道{to}的所有消息。"
            "请把更具体的一项(带 match.to)放在前面,或删除这一项。",
            "en": "This entry is never used: {earlier} before it already takes every {channel} message{to}. "
            "Put the more specific entry (with match.to) first, or remove this one.",
        },
        # --- the mail-in poller
        "mailin.bad_url": {
            "zh": "GONGDAN_IMAP_URL 无法使用:{reason}。格式:imaps://用户:密码@主机:993/INBOX?app=应用",
            "en": "GONGDAN_IMAP_URL cannot be used: {reason}. Format: imaps://user:password@host:993/INBOX?app=APP",
        },
        "mailin.failed": {
            "zh": "收取邮箱 {mailbox} 失败({step}):{reason}。请检查地址、账号密码和文件夹名。",
            "en": "Reading the mailbox {mailbox} failed ({step}): {reason}. "
            "Check the address, the account and the folder name.",
        },
    }
)
