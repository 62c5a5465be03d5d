"""The words of the sign-in inside the IM app's workbench (H5 免登, engine.identity.signin and
server/sso.py), in zh and en."""

from __future__ import annotations

from engine.i18n import register

register(
    {
        "identity.no_in_app": {
            "zh": "{name} 不支持在 IM 工作台内免登。请在工作台把应用主页设为钉钉、企业微信或飞书的入口(见 docs/sso.md)。",
            "en": "{name} has no sign-in inside an IM workbench. Set the app's home to the DingTalk, WeCom or Feishu entry (see docs/sso.md).",
        },
        # the vendors' names as the people inside their apps know them
        "h5.vendor.dingtalk": {"zh": "钉钉", "en": "DingTalk"},
        "h5.vendor.wecom": {"zh": "企业微信", "en": "WeCom"},
        "h5.vendor.feishu": {"zh": "飞书", "en": "Feishu"},
        "h5.title": {"zh": "登录工单", "en": "Signing in to Gongdan"},
        "h5.signing_in": {
            "zh": "正在通过{name}登录,请稍候……",
            "en": "Signing you in with {name}, one moment…",
        },
        "h5.no_code": {
            "zh": "{name}没有给出免登授权码({reason})。请从工作台重新打开本应用;若反复出现,请管理员检查应用的 CorpId 与可信域名。",
            "en": "{name} gave no sign-in code ({reason}). Open the app again from the workbench; if it keeps happening, an admin should check the app's CorpId and trusted domain.",
        },
        "h5.retry": {"zh": "重新登录", "en": "Try again"},
        "h5.failed_title": {"zh": "未能登录", "en": "Could not sign you in"},
        "h5.no_account_title": {"zh": "你还没有工单系统的账号", "en": "You have no Gongdan account yet"},
        "h5.no_account": {
            "zh": "你的{name}账号({who})在工单系统中还没有对应的用户。请联系管理员:在「管理 → 登录与组织」同步组织架构(或为你创建用户),然后从工作台重新打开本应用。",
            "en": "Your {name} account ({who}) has no user in Gongdan yet. Ask an administrator to sync the organisation (Admin → Sign-in & organisation) or to create your user, then open the app again from the workbench.",
        },
    }
)
