"""The words of sign-in and organisation sync (engine.identity, engine.org_sync), in zh and en."""

from __future__ import annotations

from engine.i18n import register

register(
    {
        # ---------------------------------------------------------------- setup
        "identity.unknown_provider": {
            "zh": "没有名为 {name} 的登录方式。可用:{known}。",
            "en": "There is no sign-in provider called {name}. Known: {known}.",
        },
        "identity.provider_off": {
            "zh": "登录方式 {name} 未开启。管理员可在环境变量 GONGDAN_SIGNIN 中加入 {name}(见 docs/sso.md)。",
            "en": "Sign-in with {name} is not turned on. An admin adds {name} to GONGDAN_SIGNIN (see docs/sso.md).",
        },
        "identity.not_org_source": {
            "zh": "{name} 不能作为组织架构来源。可同步的来源:{known}。",
            "en": "{name} cannot be an organisation source. Sources that sync: {known}.",
        },
        "identity.not_redirect": {
            "zh": "{name} 使用用户名和密码登录,没有跳转登录页。",
            "en": "{name} signs in with a username and password, not by a redirect.",
        },
        "identity.setup_incomplete": {
            "zh": "{name} 的配置不完整({count} 处)。请设置下列环境变量或在管理后台填写密钥。",
            "en": "The setup of {name} is incomplete ({count}). Set the variables below or enter the secret in the admin.",
        },
        "identity.setting_missing": {
            "zh": "缺少此设置。",
            "en": "This setting is missing.",
        },
        "identity.setting_bad": {
            "zh": "此设置无效:{reason}",
            "en": "This setting is invalid: {reason}",
        },
        "identity.local_off": {
            "zh": "本站已关闭用户名密码登录,请使用单点登录。",
            "en": "Password sign-in is turned off on this site; use single sign-on.",
        },
        # ---------------------------------------------------------------- sign-in
        "identity.state_mismatch": {
            "zh": "登录请求已失效或来源不明(state 不匹配)。请回到登录页重新登录。",
            "en": "The sign-in request is stale or came from elsewhere (state mismatch). Go back to the sign-in page and try again.",
        },
        "identity.login_expired": {
            "zh": "登录请求已过期(超过 {minutes} 分钟)。请重新登录。",
            "en": "The sign-in request expired (older than {minutes} minutes). Please sign in again.",
        },
        "identity.replayed": {
            "zh": "此登录回调已使用过,不能重复使用。请重新登录。",
            "en": "This sign-in callback was already used and cannot be used again. Please sign in again.",
        },
        "identity.provider_refused": {
            "zh": "{name} 拒绝了登录:{error}。请重试或联系管理员。",
            "en": "{name} refused the sign-in: {error}. Try again or ask an administrator.",
        },
        "identity.code_missing": {
            "zh": "{name} 的回调缺少授权码(code)。请重新登录。",
            "en": "The callback from {name} carries no authorization code. Please sign in again.",
        },
        "identity.token_invalid": {
            "zh": "{name} 返回的身份令牌无效:{reason}。请重新登录;若反复出现,请管理员检查 {name} 的配置。",
            "en": "The identity token from {name} is invalid: {reason}. Sign in again; if it keeps happening, an admin should check the {name} setup.",
        },
        "identity.no_subject": {
            "zh": "{name} 没有返回用户的唯一标识({field})。请管理员检查应用权限。",
            "en": "{name} did not return the user's identifier ({field}). An admin should check the app's permissions.",
        },
        "identity.bad_credentials": {
            "zh": "{name} 用户名或密码错误。",
            "en": "Wrong {name} username or password.",
        },
        "identity.no_account": {
            "zh": "{name} 账号 {who} 在本站没有对应用户。请管理员同步组织架构或创建该用户。",
            "en": "The {name} account {who} has no user on this site. Ask an admin to sync the organisation or create the user.",
        },
        "identity.ambiguous_match": {
            "zh": "有多个用户的{field}为 {value},无法自动关联。请管理员处理重复。",
            "en": "Several users have the {field} {value}, so the account cannot be linked. An admin should resolve the duplicates.",
        },
        "identity.user_inactive": {
            "zh": "该账号已停用。请联系管理员。",
            "en": "This account is deactivated. Please contact an administrator.",
        },
        # ---------------------------------------------------------------- providers
        "identity.unreachable": {
            "zh": "无法连接 {name}({url}):{reason}。请稍后再试或检查网络与地址配置。",
            "en": "Cannot reach {name} ({url}): {reason}. Try again later or check the network and the configured address.",
        },
        "identity.http_error": {
            "zh": "{name} 返回了 HTTP {status}({url})。请检查应用凭据与权限。",
            "en": "{name} answered HTTP {status} ({url}). Check the app credentials and permissions.",
        },
        "identity.bad_answer": {
            "zh": "{name} 的回答无法理解({url}):{reason}。",
            "en": "The answer of {name} cannot be understood ({url}): {reason}.",
        },
        "identity.vendor_error": {
            "zh": "{name} 返回错误 {errcode}:{detail}({url})。请按错误码检查应用权限与配置。",
            "en": "{name} returned error {errcode}: {detail} ({url}). Check the app's permissions and setup for that code.",
        },
        "identity.rate_limited": {
            "zh": "{name} 持续限流,重试 {tries} 次后放弃({url})。请稍后再同步。",
            "en": "{name} kept rate-limiting; gave up after {tries} tries ({url}). Sync again later.",
        },
        "identity.pages_forever": {
            "zh": "{name} 的分页在 {pages} 页后仍未结束({url}),已停止以免无限循环。请检查 {name} 的数据或联系其支持。",
            "en": "The pages of {name} had not ended after {pages} pages ({url}); stopped rather than loop forever. Check the data at {name} or ask its support.",
        },
        "identity.cursor_stuck": {
            "zh": "{name} 的分页游标没有前进({url}),已停止以免无限循环。",
            "en": "The page cursor of {name} did not move on ({url}); stopped rather than loop forever.",
        },
        "identity.ldap_error": {
            "zh": "LDAP 服务器出错:{reason}。请检查 GONGDAN_LDAP_URL 与服务账号。",
            "en": "The LDAP server failed: {reason}. Check GONGDAN_LDAP_URL and the service account.",
        },
        # ---------------------------------------------------------------- admin secrets
        "identity.secret_unknown": {
            "zh": "{name} 没有名为 {key} 的密钥。可填写:{known}。",
            "en": "{name} has no secret called {key}. Secrets you can enter: {known}.",
        },
        "identity.secret_required": {"zh": "请填写密钥。", "en": "Enter the secret."},
        "identity.secret_too_long": {
            "zh": "密钥过长(最多 {limit} 个字符)。",
            "en": "The secret is too long (at most {limit} characters).",
        },
        # ---------------------------------------------------------------- org sync
        "org.held": {
            "zh": "本次同步将停用 {leavers} / {total} 名来自 {source} 的用户(超过 {limit}%),已暂停。请管理员核对后确认(gongdan org sync {source} --confirm 或管理后台的“确认”按钮)。",
            "en": "This sync would deactivate {leavers} of {total} users from {source} (more than {limit}%), so it is held. An admin checks and confirms it (gongdan org sync {source} --confirm or the Confirm button in the admin).",
        },
        "org.empty_source": {
            "zh": "{source} 没有返回任何用户,同步已停止(不会停用所有人)。请检查应用的通讯录权限范围。",
            "en": "{source} returned no users, so the sync stopped (it will not deactivate everyone). Check the app's contact permission scope.",
        },
        "org.cycle": {
            "zh": "{source} 的部门 {ident} 的上级形成了循环,已停止同步。",
            "en": "The parents of department {ident} from {source} form a loop; the sync stopped.",
        },
        "org.nothing_held": {
            "zh": "{source} 没有等待确认的同步。",
            "en": "There is no held sync of {source} to confirm.",
        },
        "org.running": {
            "zh": "{source} 的另一次同步正在进行。请等它结束。",
            "en": "Another sync of {source} is running. Wait for it to end.",
        },
        "org.done": {
            "zh": "同步完成:新增 {created},更新 {updated},停用 {deactivated},移交任务 {tasks_handed_on}。",
            "en": "Sync done: {created} created, {updated} updated, {deactivated} deactivated, {tasks_handed_on} tasks handed on.",
        },
        "org.dry_run": {
            "zh": "试运行(未做任何修改):将新增 {created},更新 {updated},停用 {deactivated},移交任务 {tasks_handed_on}。",
            "en": "Dry run (nothing changed): would create {created}, update {updated}, deactivate {deactivated}, hand on {tasks_handed_on} tasks.",
        },
        "org.leavers": {
            "zh": "停用:{names}",
            "en": "Deactivated: {names}",
        },
        "org.handed_on": {
            "zh": "{user} 已离开组织(组织同步),任务移交给 {to}。",
            "en": "{user} left the organisation (organisation sync); the task is handed to {to}.",
        },
        "org.no_successor": {
            "zh": "没有可接手 {user} 的任务的人(无上级、部门负责人或管理员)。",
            "en": "Nobody can take over the tasks of {user} (no manager, department head or admin).",
        },
    }
)

register(
    {
        "identity.reason.expired": {"zh": "已过期", "en": "it has expired"},
        "identity.reason.audience": {"zh": "受众(aud)不是本站", "en": "its audience (aud) is not this site"},
        "identity.reason.issuer": {"zh": "签发者(iss)不符", "en": "its issuer (iss) does not match"},
        "identity.reason.signature": {"zh": "签名无效", "en": "its signature is invalid"},
        "identity.reason.nonce": {
            "zh": "nonce 不符(可能是重放)",
            "en": "its nonce does not match (a replay?)",
        },
        "identity.reason.algorithm": {
            "zh": "签名算法 {alg} 不在允许列表 {allowed} 中",
            "en": "the signing algorithm {alg} is not in the allowed list {allowed}",
        },
        "identity.reason.key": {"zh": "找不到签名密钥 {kid}", "en": "the signing key {kid} is unknown"},
        "identity.reason.malformed": {"zh": "格式错误", "en": "it is malformed"},
        "identity.reason.missing": {"zh": "缺少 id_token", "en": "there is no id_token"},
        "identity.reason.userinfo": {
            "zh": "userinfo 的 sub 与 id_token 不一致",
            "en": "the userinfo sub differs from the id_token's",
        },
    }
)

# The sign-in and admin pages' words (server/sso.py, server/templates/pages/admin_sso.html).
register(
    {
        "sso.or": {"zh": "或使用", "en": "or sign in with"},
        "sso.ldap_title": {"zh": "使用 {name} 登录", "en": "Sign in with {name}"},
        "admin.page.section.sso": {"zh": "登录与组织", "en": "Sign-in & organisation"},
        "sso.admin.providers": {"zh": "登录方式", "en": "Sign-in methods"},
        "sso.admin.providers_help": {
            "zh": "开启哪些登录方式由环境变量 GONGDAN_SIGNIN 决定(见 docs/sso.md)。密钥可在此填写:保存后只显示来源,不再显示内容。",
            "en": "Which methods are on is set by GONGDAN_SIGNIN (see docs/sso.md). Secrets may be entered here: once saved, only where they come from is shown, never the value.",
        },
        "sso.admin.provider": {"zh": "方式", "en": "Method"},
        "sso.admin.state": {"zh": "状态", "en": "State"},
        "sso.admin.on": {"zh": "已开启", "en": "On"},
        "sso.admin.off": {"zh": "未开启", "en": "Off"},
        "sso.admin.ready": {"zh": "配置完整", "en": "Set up"},
        "sso.admin.missing": {"zh": "缺少:{names}", "en": "Missing: {names}"},
        "sso.admin.secrets": {"zh": "密钥", "en": "Secrets"},
        "sso.admin.secret_placeholder": {"zh": "新的密钥(只写)", "en": "New secret (write-only)"},
        "sso.admin.save": {"zh": "保存", "en": "Save"},
        "sso.admin.clear": {"zh": "清除", "en": "Clear"},
        "sso.admin.local": {"zh": "用户名密码登录", "en": "Password sign-in"},
        "sso.admin.sync": {"zh": "组织同步", "en": "Organisation sync"},
        "sso.admin.sync_help": {
            "zh": "从来源拉取部门和人员,一次同步要么全部生效,要么不生效。停用超过 {limit}% 用户的同步会暂停,需管理员确认。定时同步:GONGDAN_ORG_SYNC。",
            "en": "Pulls departments and people from a source; a run applies all or nothing. A run that would deactivate more than {limit}% of users is held for an admin to confirm. Schedule: GONGDAN_ORG_SYNC.",
        },
        "sso.admin.run_now": {"zh": "立即同步 {name}", "en": "Sync {name} now"},
        "sso.admin.held": {"zh": "等待确认的同步", "en": "Held syncs to confirm"},
        "sso.admin.leavers": {"zh": "将被停用", "en": "Would be deactivated"},
        "sso.admin.confirm": {"zh": "确认并同步 {name}", "en": "Confirm and sync {name}"},
        "sso.admin.confirm_ask": {
            "zh": "确认停用这些用户并移交他们的待办任务?",
            "en": "Deactivate these people and hand on their open tasks?",
        },
        "sso.admin.runs": {"zh": "最近的同步", "en": "Recent syncs"},
        "sso.admin.no_runs": {"zh": "还没有同步记录。", "en": "No syncs yet."},
        "sso.admin.source": {"zh": "来源", "en": "Source"},
        "sso.admin.started": {"zh": "开始", "en": "Started"},
        "sso.admin.counts": {"zh": "结果", "en": "Result"},
        "sso.admin.status.running": {"zh": "进行中", "en": "Running"},
        "sso.admin.status.done": {"zh": "完成", "en": "Done"},
        "sso.admin.status.held": {"zh": "已暂停", "en": "Held"},
        "sso.admin.status.failed": {"zh": "失败", "en": "Failed"},
        "sso.admin.status.confirmed": {"zh": "已确认", "en": "Confirmed"},
        "sso.admin.secret_saved": {
            "zh": "{name} 的密钥 {key} 已保存(不会再显示)。",
            "en": "The secret {key} of {name} is saved (it is never shown again).",
        },
        "sso.admin.secret_cleared": {
            "zh": "已清除 {name} 的密钥 {key}。",
            "en": "Cleared the secret {key} of {name}.",
        },
    }
)
