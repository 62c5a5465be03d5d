"""Messages of the running flow (tasks, approvals, actions, timers), in Chinese and English."""

from engine.i18n import register

register(
    {
        "flow.condition_failed": {
            "zh": "节点 {node} 的分支条件 `{condition}` 出错:{detail}。工单停留在原处;请管理员修正流程定义。",
            "en": "The branch condition `{condition}` at node {node} failed: {detail}. The ticket stays "
            "where it is; an admin must correct the flow definition.",
        },
        "flow.no_branch": {
            "zh": "网关 {node} 没有条件成立的分支,也没有默认分支。请在流程中给它加一条默认分支。",
            "en": "No branch of gateway {node} applies and it has no default. Give it a default branch.",
        },
        "flow.ticket_finished": {
            "zh": "工单 {number} 已{status},不能再执行 {action}。",
            "en": "Ticket {number} is {status}; {action} is no longer possible.",
        },
        "flow.task_done": {
            "zh": "待办 {task} 已经处理过了(状态:{status})。请刷新查看最新情况。",
            "en": "Task {task} has already been dealt with (it is {status}). Reload to see where it is now.",
        },
        "flow.task_taken": {
            "zh": "待办 {task} 刚刚被他人处理。请刷新查看最新情况。",
            "en": "Task {task} was just dealt with by someone else. Reload to see where it is now.",
        },
        "flow.task_waiting": {
            "zh": "待办 {task} 还在等待前面的审批人,轮到您时会通知您。",
            "en": "Task {task} is waiting for the approvers before you; you will be told when it is your "
            "turn.",
        },
        "flow.not_assignee": {
            "zh": "您不是待办 {task} 的处理人,不能执行 {action}。请让处理人操作,或请管理员转派给您。",
            "en": "You are not the assignee of task {task}, so you cannot {action} it. Ask the assignee, or an "
            "admin to transfer it to you.",
        },
        "flow.not_claimable": {
            "zh": "您不在可认领待办 {task} 的人员范围内({pool})。",
            "en": "You are not among the people who may claim task {task} ({pool}).",
        },
        "flow.already_claimed": {
            "zh": "待办 {task} 已被认领。",
            "en": "Task {task} has already been claimed.",
        },
        "flow.not_in_pool": {
            "zh": "待办 {task} 不是从候选人中认领的,不能退回到待认领状态。请改用转派。",
            "en": "Task {task} was not claimed from a pool, so it cannot be released. Transfer it instead.",
        },
        "flow.return_not_allowed": {
            "zh": "不能从节点 {node} 退回到 {target}。允许的退回节点:{allowed}。",
            "en": "Returning from node {node} to {target} is not allowed. Allowed: {allowed}.",
        },
        "flow.withdraw_not_allowed": {
            "zh": "不能撤回:{reason}",
            "en": "Cannot withdraw: {reason}",
        },
        "flow.withdraw.not_yours": {
            "zh": "只有最近一步的提交人可以撤回。",
            "en": "only the person who submitted the last step may withdraw it.",
        },
        "flow.withdraw.acted": {
            "zh": "已有人处理了后续待办。请联系当前处理人退回。",
            "en": "someone has already acted on the next step. Ask them to return it to you.",
        },
        "flow.not_approval": {
            "zh": "节点 {node} 不是审批节点,不能执行 {action}。",
            "en": "Node {node} is not an approval, so {action} is not possible there.",
        },
        "flow.unknown_user": {
            "zh": "用户 {user} 不存在或已停用。请选择一个有效的用户。",
            "en": "User {user} does not exist or is deactivated. Choose an active user.",
        },
        "flow.same_user": {
            "zh": "待办 {task} 已经是 {user} 在处理。",
            "en": "Task {task} is already with {user}.",
        },
        "flow.already_signer": {
            "zh": "{user} 已经是节点 {node} 的审批人。",
            "en": "{user} is already an approver at node {node}.",
        },
        "flow.not_allowed": {
            "zh": "您不能对工单 {number} 执行 {action}:{reason}",
            "en": "You cannot {action} ticket {number}: {reason}",
        },
        "flow.reason.admin_or_submitter": {
            "zh": "只有提交人或管理员可以这样做。",
            "en": "only the submitter or an admin may do that.",
        },
        "flow.reason.admin_or_assignee": {
            "zh": "只有当前处理人或管理员可以这样做。",
            "en": "only a current assignee or an admin may do that.",
        },
        "flow.reason.close": {
            "zh": "只有处理任务的当前处理人(提交人和审批人除外)或管理员可以关闭工单。",
            "en": "only whoever holds a task of the ticket (not its submitter, not an approver) or an admin may close it.",
        },
        "flow.staff_only": {
            "zh": "只有本应用的工作人员或管理员可以对工单 {number} 执行 {action}；您的这一步请自己完成。",
            "en": "Only the app's staff or an admin may {action} on ticket {number}; this step is yours to do.",
        },
        "flow.reason.cancel": {
            "zh": "只有提交人(在轮到其完成最后一步之前)或管理员可以取消工单。",
            "en": "only the submitter (before the last step, which is theirs) or an admin may cancel it.",
        },
        "flow.required_for_action": {
            "zh": "{field}为必填项:「{action}」之前请先填写。",
            "en": "{field} is required for “{action}”: fill it in first.",
        },
        "flow.action.complete": {"zh": "完成", "en": "Complete"},
        "flow.action.approve": {"zh": "同意", "en": "Approve"},
        "flow.action.reject": {"zh": "驳回", "en": "Reject"},
        "flow.action.done": {"zh": "完成", "en": "Done"},
        "flow.not_closed": {
            "zh": "工单 {number} 尚未关闭,无需重新打开。",
            "en": "Ticket {number} is not closed, so it cannot be reopened.",
        },
        "flow.no_reopen_node": {
            "zh": "流程没有可重新打开到的节点。请在流程定义中设置 reopen_to。",
            "en": "The flow has no node to reopen to. Set reopen_to in the flow definition.",
        },
        "flow.subprocess_failed": {
            "zh": "节点 {node} 无法创建子工单({ticket_type}):{detail}",
            "en": "Node {node} could not create its sub-ticket ({ticket_type}): {detail}",
        },
        "flow.timer_field_empty": {
            "zh": "定时节点 {node} 等待的日期字段 {field} 为空,已立即继续。",
            "en": "Timer node {node} waits for the date in field {field}, which is empty; it went on at once.",
        },
        "flow.action_failed": {
            "zh": "节点 {node} 的自动动作 {action} 出错:{detail}",
            "en": "The automatic action {action} at node {node} failed: {detail}",
        },
        "flow.action_unavailable": {
            "zh": "动作 {action} 在流程中还不能使用。请改用 set、assign、notify 或 comment。",
            "en": "The action {action} cannot run inside a flow yet. Use set, assign, notify or comment.",
        },
    }
)
