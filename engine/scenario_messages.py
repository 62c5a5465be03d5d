"""Messages of the scenario tests (engine/scenarios.py, `gongdan test`), in Chinese and English.

Every mismatch names what the scenario expected and what the ticket showed, and ends with what
to do: fix the scenario, or fix the app so it does what the scenario says.
"""

from engine.i18n import register

FIX = {
    "zh": "请修改场景的期望,或修改应用使其符合期望。",
    "en": "Correct the scenario's expectation, or change the app so it does this.",
}


def _mismatch(zh: str, en: str) -> dict[str, str]:
    return {"zh": f"{zh}{FIX['zh']}", "en": f"{en} {FIX['en']}"}


register(
    {
        # --- mismatches (path: …tests[i](.steps[j]).then.KEY)
        "scenario.stage": _mismatch(
            "工单应在阶段 {expected},实际在 {actual}。",
            "The ticket should be at stage {expected} but is at {actual}.",
        ),
        "scenario.status": _mismatch(
            "工单状态应为 {expected},实际为 {actual}。",
            "The ticket's status should be {expected} but is {actual}.",
        ),
        "scenario.assignee": _mismatch(
            "当前处理人应为 {expected},实际为 {actual}。",
            "The open tasks should be held by {expected} but are held by {actual}.",
        ),
        "scenario.assignee_team": _mismatch(
            "应分派给团队 {expected},实际的团队/待领池为 {actual}。",
            "The work should go to team {expected}; the teams and pools found are {actual}.",
        ),
        "scenario.assignee_role": _mismatch(
            "应由角色 {expected} 处理(在其待领池中或由其成员处理),实际为 {actual}。",
            "The work should be with role {expected} (in its pool or held by a member); found {actual}.",
        ),
        "scenario.field": _mismatch(
            "字段 {field} 应为 {expected},实际为 {actual}。",
            "Field {field} should be {expected} but is {actual}.",
        ),
        "scenario.queued": _mismatch(
            "应排队发送 {expected},本步实际排队的是:{actual}。",
            "A message {expected} should have been queued; this step queued: {actual}.",
        ),
        "scenario.queued_none": _mismatch(
            "本步不应排队任何消息,实际排队了:{actual}。",
            "This step should queue nothing but queued: {actual}.",
        ),
        "scenario.event": _mismatch(
            "本步应发生事件 {expected},实际发生的是:{actual}。",
            "Event {expected} should have happened in this step; these did: {actual}.",
        ),
        "scenario.created": _mismatch(
            "本步应创建工单 {expected},实际创建的是:{actual}。",
            "This step should have created a ticket {expected}; it created: {actual}.",
        ),
        "scenario.sla_breached": _mismatch(
            "SLA 超时应为 {expected},实际超时的节点:{actual}。",
            "SLA breached should be {expected}; the nodes whose target was missed: {actual}.",
        ),
        # --- steps that could not run
        "scenario.command_failed": {
            "zh": "这一步无法执行:{detail} 请修改场景(数据、执行人或动作),或修改应用。",
            "en": "This step could not run: {detail} Fix the scenario (data, person or action) or the app.",
        },
        "scenario.no_task": {
            "zh": "工单当前没有 {user} 可以执行 {action} 的待办(当前待办:{tasks})。请检查执行人及其角色(given.people)。",
            "en": "The ticket has no open task {user} may do {action} on (open tasks: {tasks}). "
            "Check who acts and their roles (given.people).",
        },
        "scenario.bad_moment": {
            "zh": "时间 {value} 无法识别。请写带时区的 ISO 时间,例如 2026-12-01T09:00:00+08:00。",
            "en": "The moment {value} is not understood. Write an ISO date-time with its offset, "
            "e.g. 2026-12-01T09:00:00+08:00.",
        },
        "scenario.unknown_calendar": {
            "zh": "未知的日历 {calendar}。可用的日历:{known}。",
            "en": "Unknown calendar {calendar}. Known calendars: {known}.",
        },
        "scenario.missing_app": {
            "zh": "场景需要应用 {app}(本应用的规则在其中创建工单),但没有提供它的定义。请一并传入它的文件,例如 gongdan test {file} {app}.yaml。",
            "en": "The scenario needs app {app} (this app's rules create tickets in it) but its definition "
            "was not given. Pass its file too, e.g. gongdan test {file} {app}.yaml.",
        },
        "scenario.unknown_role": {
            "zh": "应用没有角色 {role}。可用的角色:{known}。",
            "en": "The app has no role {role}. Its roles: {known}.",
        },
        "scenario.crashed": {
            "zh": "场景运行时发生内部错误:{detail}。请报告此问题。",
            "en": "The scenario crashed with an internal error: {detail}. Please report it.",
        },
        # --- the report (`gongdan test`)
        "scenario.passed": {"zh": "✓ {name}({ms} 毫秒)", "en": "✓ {name} ({ms} ms)"},
        "scenario.failed": {"zh": "✗ {name}({ms} 毫秒)", "en": "✗ {name} ({ms} ms)"},
        "scenario.app_line": {"zh": "应用 {app}({file}):", "en": "App {app} ({file}):"},
        "scenario.summary": {
            "zh": "{passed} 个场景通过,{failed} 个失败,用时 {ms} 毫秒。",
            "en": "{passed} scenarios passed, {failed} failed, in {ms} ms.",
        },
        "scenario.none": {
            "zh": "应用 {app} 没有场景测试。请在 ticket_types.<类型>.tests 中添加(见 docs/app-format.md)。",
            "en": "App {app} has no scenario tests. Add them under ticket_types.<type>.tests "
            "(see docs/app-format.md).",
        },
        "scenario.nobody": {"zh": "(无人)", "en": "(nobody)"},
        "scenario.nothing": {"zh": "(无)", "en": "(nothing)"},
    }
)
