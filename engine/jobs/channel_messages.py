"""Messages of the delivery channels, the outbound guard and notification templates, in Chinese
and English. Each says what went wrong and what to do; delivery errors end up in
``outbox.last_error`` (the admin's dead-letter list), template problems in definition checks.
"""

from engine.i18n import register

register(
    {
        # --- the outbound guard (webhooks, robots, SMS gateways, call actions)
        "channel.bad_url": {
            "zh": "地址 {url} 无法使用({reason})。请改为 http:// 或 https:// 开头的完整地址。",
            "en": "The address {url} cannot be used ({reason}). Use a full address starting with http:// or https://.",
        },
        "channel.host_unknown": {
            "zh": "无法解析主机 {host}({reason})。请检查主机名和服务器的 DNS 设置。",
            "en": "The host {host} cannot be resolved ({reason}). Check the host name and the server's DNS.",
        },
        "channel.address_refused": {
            "zh": (
                "拒绝访问 {host}：它的地址 {address} 是{kind}，外发请求不能访问内部网络。"
                "如确需访问，请管理员把该主机或网段加入 GONGDAN_OUTBOUND_ALLOW。"
            ),
            "en": (
                "Refused to call {host}: its address {address} is {kind}, and outbound calls may not reach "
                "internal networks. If it must, an admin adds the host or its network to GONGDAN_OUTBOUND_ALLOW."
            ),
        },
        "channel.kind.unspecified": {"zh": "未指定地址", "en": "an unspecified address"},
        "channel.kind.loopback": {"zh": "本机回环地址", "en": "a loopback address"},
        "channel.kind.link_local": {
            "zh": "链路本地地址(含云主机元数据服务)",
            "en": "a link-local address (incl. the cloud metadata service)",
        },
        "channel.kind.multicast": {"zh": "组播地址", "en": "a multicast address"},
        "channel.kind.private": {"zh": "内网地址", "en": "a private address"},
        "channel.kind.reserved": {"zh": "保留地址", "en": "a reserved address"},
        "channel.answer_too_large": {
            "zh": "{url} 的应答超过 {limit} 字节，已中止读取。请检查对方接口，应答应当简短。",
            "en": "The answer of {url} is larger than {limit} bytes and was cut off. Check that endpoint: its answer should be short.",
        },
        "channel.too_many_redirects": {
            "zh": "{url} 重定向超过 {limit} 次。请直接配置最终地址。",
            "en": "{url} redirected more than {limit} times. Configure the final address directly.",
        },
        "channel.timeout": {
            "zh": "{url} 没有按时应答，稍后会自动重试。",
            "en": "{url} did not answer in time; it will be retried.",
        },
        "channel.unknown_channel": {
            "zh": "没有名为 {channel} 的发送渠道。可用的渠道：{known}。请检查应用定义中的 notify 或 webhook。",
            "en": "There is no delivery channel called {channel}. The channels are: {known}. Check the app "
            "definition's notify or webhook.",
        },
        # --- configuration of the channels
        "channel.smtp_not_configured": {
            "zh": "未配置邮件服务器。请设置 GONGDAN_SMTP_URL(见 docs/channels.md)，然后在死信列表中重发。",
            "en": "No mail server is configured. Set GONGDAN_SMTP_URL (see docs/channels.md), then re-send from the dead letters.",
        },
        "channel.smtp_bad_url": {
            "zh": "GONGDAN_SMTP_URL 无效：{reason}。格式如 smtp+starttls://用户:密码@主机:587?from=noreply@example.cn。",
            "en": "GONGDAN_SMTP_URL is invalid: {reason}. Write it like smtp+starttls://user:pass@host:587?from=noreply@example.cn.",
        },
        "channel.sms_not_configured": {
            "zh": "未配置短信网关。请设置 GONGDAN_SMS_URL(见 docs/channels.md)，然后在死信列表中重发。",
            "en": "No SMS gateway is configured. Set GONGDAN_SMS_URL (see docs/channels.md), then re-send from the dead letters.",
        },
        "channel.sms_bad_url": {
            "zh": "GONGDAN_SMS_URL 无效：{reason}。请写 https://网关地址,或 aliyun://AccessKeyId:AccessKeySecret@dysmsapi.aliyuncs.com?sign_name=…&template_code=…。",
            "en": "GONGDAN_SMS_URL is invalid: {reason}. Write https://gateway, or aliyun://AccessKeyId:AccessKeySecret@dysmsapi.aliyuncs.com?sign_name=…&template_code=….",
        },
        "channel.hook_secret_missing": {
            "zh": "Webhook 的签名密钥 {name} 未设置，未签名的请求不会发出。请在“管理 → 渠道”中设置 hook.{name}(或环境变量 {env})，然后在死信列表中重发。",
            "en": "The webhook's signing secret {name} is not set, and an unsigned request is never sent. Set hook.{name} in Admin → Channels (or the variable {env}), then re-send from the dead letters.",
        },
        "channel.secret_missing": {
            "zh": "请求所需的密钥 {name} 未设置，请求未发出。请在“管理 → 渠道”中设置 hook.{name}(或环境变量 {env})，然后在死信列表中重发。",
            "en": "The secret {name} the request needs is not set, so it was not sent. Set hook.{name} in Admin → Channels (or the variable {env}), then re-send from the dead letters.",
        },
        "channel.robot_not_configured": {
            "zh": "未配置机器人 {robot}。请设置环境变量 {env}(如 dingtalk+https://oapi.dingtalk.com/robot/send?access_token=…#secret=…)，然后在死信列表中重发。",
            "en": "The robot {robot} is not configured. Set the variable {env} (e.g. dingtalk+https://oapi.dingtalk.com/robot/send?access_token=…#secret=…), then re-send from the dead letters.",
        },
        "channel.robot_bad_url": {
            "zh": "机器人 {robot} 的配置无效：{reason}。请以 dingtalk+、wecom+、feishu+ 或 webhook+ 开头写完整的 https 地址。",
            "en": "The robot {robot} is misconfigured: {reason}. Start it with dingtalk+, wecom+, feishu+ or webhook+ followed by the full https address.",
        },
        "channel.robot_wrong_kind": {
            "zh": "机器人 {robot} 是 {kind} 机器人，不能用于 {channel} 通道。请在通知中改用 {kind} 通道，或换一个 {channel} 机器人。",
            "en": "The robot {robot} is a {kind} robot and cannot post to the {channel} channel. Use the {kind} channel in the notification, or name a {channel} robot.",
        },
        "channel.no_address": {
            "zh": "没有可发送的{what}：{names}。请在用户资料中补充后重发。",
            "en": "Nobody to send to: {names} have no {what}. Add it to their profiles, then re-send.",
        },
        "channel.no_address.email": {"zh": "邮箱地址", "en": "email address"},
        "channel.no_address.phone": {"zh": "手机号", "en": "phone number"},
        # --- answers of the far side
        "channel.smtp_refused": {
            "zh": "邮件服务器拒绝了邮件({code} {reason})。",
            "en": "The mail server refused the message ({code} {reason}).",
        },
        "channel.smtp_unsupported": {
            "zh": "邮件服务器不支持所需功能({reason})。请检查 GONGDAN_SMTP_URL 的协议(smtp、smtp+starttls 或 smtps)和端口。",
            "en": "The mail server lacks a needed feature ({reason}). Check the scheme (smtp, smtp+starttls or smtps) and port of GONGDAN_SMTP_URL.",
        },
        "channel.smtp_failed": {
            "zh": "连接邮件服务器失败({reason})，稍后会自动重试。",
            "en": "Could not talk to the mail server ({reason}); it will be retried.",
        },
        "channel.vendor_refused": {
            "zh": "{vendor} 拒绝了消息(错误码 {code}：{message})。",
            "en": "{vendor} refused the message (code {code}: {message}).",
        },
        "channel.bad_answer": {
            "zh": "{vendor} 的应答不是预期的 JSON:{answer}",
            "en": "The answer of {vendor} is not the JSON expected: {answer}",
        },
        # --- words inside messages
        "channel.open_ticket": {"zh": "查看工单", "en": "Open ticket"},
        "channel.admin_subject": {
            "zh": "工单 {ticket} 的流程出错：{code}",
            "en": "Flow error on ticket {ticket}: {code}",
        },
        "channel.admin_body": {
            "zh": "工单 {ticket} 的流程在无人操作时出错，工单停在原处等待处理。\n\n原因：{message}\n位置：{where}\n\n请修正数据或应用定义后，在工单上重试该操作。",
            "en": "The flow of ticket {ticket} failed while nobody was acting on it; the ticket waits where it was.\n\nReason: {message}\nWhere: {where}\n\nFix the data or the app definition, then retry the step on the ticket.",
        },
        # --- notification templates in app definitions
        "check.template_syntax": {
            "zh": "模板 {name} 的 {part} 第 {line} 行有语法错误：{reason}。请检查该行的 {{{{ … }}}} 与 {{% … %}} 是否成对、拼写是否正确。",
            "en": "Template {name}, {part}, line {line} has a syntax error: {reason}. Check that the {{{{ … }}}} and {{% … %}} on that line are closed and spelled right.",
        },
        "check.unknown_template": {
            "zh": "通知模板 {name} 不存在。请在 templates 中定义它，或使用内置模板：{known}。",
            "en": "The notification template {name} does not exist. Define it under templates, or use a built-in one: {known}.",
        },
    }
)
