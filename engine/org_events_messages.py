"""The words of the organisation change events (engine.org_events), in zh and en."""

from __future__ import annotations

from engine.i18n import register

register(
    {
        "org.events_unknown_provider": {
            "zh": "{provider} 不推送通讯录变更事件。可接收事件的来源:{known};LDAP 由定时全量同步处理。",
            "en": "{provider} does not push contact change events. Sources with events: {known}; "
            "LDAP is kept up to date by the scheduled full sync.",
        },
        "org.events_not_configured": {
            "zh": "服务器未配置 {setting},无法校验 {provider} 的通讯录变更事件。"
            "请管理员在环境变量或“登录与组织架构”页面中设置它(见 docs/sso.md)。",
            "en": "The server has no {setting}, so {provider} contact change events cannot be checked. "
            "An admin sets it in the environment or on the Sign-in & organisation page (see docs/sso.md).",
        },
        "org.events_wrong_receiver": {
            "zh": "事件是发给 {receiver} 的,而不是本系统配置的 {setting}。请核对 {provider} 开放平台中的应用。",
            "en": "The event is addressed to {receiver}, not to the {setting} configured here. "
            "Check the app in the {provider} developer console.",
        },
        "org.events_too_many": {
            "zh": "一个事件涉及的对象超过 {limit} 个,已拒绝。请改用全量同步(gongdan org sync {provider})。",
            "en": "One event names more than {limit} objects; refused. Run a full sync instead "
            "(gongdan org sync {provider}).",
        },
    }
)
