"""Messages of assignee resolution and dispatch, in Chinese and English.

Each is a problem found while a command ran (the task still opens; the Runtime logs the problem as an
event): it says who could not be found and what an administrator should do about it.
"""

from engine.i18n import register

register(
    {
        "assignee.unknown_kind": {
            "zh": "处理人设置无效(给出了:{kinds})。请在流程定义中只写一种:{known}。",
            "en": "The assignee setting is not valid (it gives: {kinds}). Write exactly one of: {known}.",
        },
        "assignee.unknown_user": {
            "zh": "用户 {user} 不存在,任务无人处理。请创建该用户,或在流程中改用其他处理人。",
            "en": (
                "User {user} does not exist, so nobody was assigned. "
                "Create the user or change the assignee in the flow."
            ),
        },
        "assignee.inactive_user": {
            "zh": "用户 {user} 已停用,任务无人处理。请重新启用该用户,或在流程中改用其他处理人。",
            "en": (
                "User {user} is deactivated, so nobody was assigned. "
                "Re-activate the user or change the assignee in the flow."
            ),
        },
        "assignee.unknown_role": {
            "zh": "本应用没有角色 {role}。请在 roles 中定义它并重新发布。",
            "en": "This app has no role {role}. Define it under roles and publish again.",
        },
        "assignee.empty_role": {
            "zh": "角色 {role} 没有在职成员,无人能领取任务。请为该角色添加成员。",
            "en": "Role {role} has no active members, so nobody can claim the task. Add members to the role.",
        },
        "assignee.unknown_department": {
            "zh": "部门 {department} 不存在。请创建该部门,或在流程中改正部门名称。",
            "en": "Department {department} does not exist. Create it or correct the name in the flow.",
        },
        "assignee.ambiguous_department": {
            "zh": "有 {count} 个部门都叫 {department},无法确定是哪一个。请给部门改名使名称唯一。",
            "en": (
                "{count} departments are named {department}, so it is not clear which one is meant. "
                "Rename them so the name is unique."
            ),
        },
        "assignee.department_no_head": {
            "zh": "部门 {department} 没有在职的负责人;暂由部门成员领取。请为该部门设置负责人。",
            "en": (
                "Department {department} has no active head; its members may claim the task meanwhile. "
                "Set a head for the department."
            ),
        },
        "assignee.empty_department": {
            "zh": "部门 {department} 没有在职成员,无人能领取任务。请为该部门添加成员。",
            "en": (
                "Department {department} has no active members, so nobody can claim the task. "
                "Add people to the department."
            ),
        },
        "assignee.field_empty": {
            "zh": "用户字段 {field} 为空,任务无人处理。请填写 {field} 后再分派。",
            "en": (
                "The user field {field} is empty, so nobody was assigned. Fill in {field} and assign again."
            ),
        },
        "assignee.field_unknown_users": {
            "zh": "用户字段 {field} 中的用户 {ids} 不存在或已停用。请改正 {field} 中的人员。",
            "en": (
                "User(s) {ids} in the user field {field} do not exist or are deactivated. "
                "Correct the people in {field}."
            ),
        },
        "assignee.no_submitter": {
            "zh": "工单没有提交人(由系统创建),任务无人处理。请为此步骤改用其他处理人。",
            "en": (
                "The ticket has no submitter (the system created it), so nobody was assigned. "
                "Use another kind of assignee for this step."
            ),
        },
        "assignee.no_current_assignee": {
            "zh": "工单当前没有处理人,无法找到其上级。请先分派处理人,或为此步骤改用其他处理人。",
            "en": (
                "The ticket has no current assignee, so there is no manager to find. "
                "Assign someone first or use another kind of assignee for this step."
            ),
        },
        "assignee.no_manager": {
            "zh": (
                "{user} 没有在职的直属上级,所在部门及上级部门也没有其他负责人。请为其设置上级或部门负责人。"
            ),
            "en": (
                "{user} has no active manager and no other head in their department or above. "
                "Set their manager or a department head."
            ),
        },
        "assignee.expr_failed": {
            "zh": "处理人表达式 {expr} 计算失败:{detail}。请修改流程中的表达式。",
            "en": "The assignee expression {expr} failed: {detail}. Fix the expression in the flow.",
        },
        "assignee.expr_empty": {
            "zh": "处理人表达式 {expr} 没有给出任何人,任务无人处理。请检查表达式及其读取的字段。",
            "en": (
                "The assignee expression {expr} gave nobody, so nobody was assigned. "
                "Check the expression and the fields it reads."
            ),
        },
        "assignee.expr_not_users": {
            "zh": "处理人表达式 {expr} 的结果 {value} 不是用户名或用户 id。请让表达式返回用户名(或其列表)。",
            "en": (
                "The assignee expression {expr} gave {value}, which is not a username or user id. "
                "Make it return a username or a list of usernames."
            ),
        },
        "assignee.expr_unknown_users": {
            "zh": "处理人表达式 {expr} 给出的用户 {users} 不存在或已停用。请改正表达式或相关数据。",
            "en": (
                "The assignee expression {expr} named user(s) {users} who do not exist or are deactivated. "
                "Correct the expression or the data it reads."
            ),
        },
        "assignee.no_team": {
            "zh": (
                "自动分派(按 {by})找不到与 {value} 对应的团队,且没有默认团队。请在 dispatch 中设置 default。"
            ),
            "en": (
                "Dispatch by {by} found no team for {value} and no default team is set. "
                "Add a default team to the dispatch."
            ),
        },
        "assignee.unknown_team": {
            "zh": "团队 {team} 不是本应用的角色。请在 roles 中定义它、添加成员并重新发布。",
            "en": (
                "Team {team} is not a role of this app. Define it under roles, add members and publish again."
            ),
        },
        "assignee.team_unavailable": {
            "zh": (
                "团队 {team} 中没有可分派的成员(全部休假或没有成员)。"
                "请为该角色添加成员,或将某人标记为已返岗。"
            ),
            "en": (
                "No member of team {team} is available (all away or none). "
                "Add members to the role or mark someone back."
            ),
        },
    }
)
