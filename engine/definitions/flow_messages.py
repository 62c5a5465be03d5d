"""Messages of the static flow checks run when a definition loads, in Chinese and English.

Each says what is wrong with the flow graph and what to do. Registered here so that the flow
checks in ``engine.definitions.checks`` own their words.
"""

from engine.i18n import register

register(
    {
        # --- reachability and dead ends
        "check.flow.unreachable": {
            "zh": "节点 {id} 从开始节点 {start} 无法到达。请添加一条通向它的连线,或删除该节点。",
            "en": "Node {id} can never be reached from the start ({start}). "
            "Add an edge leading to it, or remove the node.",
        },
        "check.flow.no_outgoing": {
            "zh": "节点 {id}({type})没有出去的连线,工单到这里会卡住。请从它连一条线到下一步(流程到此结束则连到 end 节点)。",
            "en": "Node {id} ({type}) has no outgoing edge, so a ticket that gets there is stuck. "
            "Add an edge to the next step (to an end node if the flow finishes there).",
        },
        "check.flow.cannot_reach_end": {
            "zh": "从节点 {id} 出发无法到达任何结束节点:它后面的每条路都会走进死路或出不去的循环。"
            "请修正它通向的那个死路或循环,或从它连一条线通向结束节点。",
            "en": "From node {id} no path leads to an end: every way on runs into a dead end or a loop "
            "with no way out. Fix the dead end or loop it leads into, or add an edge toward an end.",
        },
        "check.flow.loop_no_exit": {
            "zh": "这些节点构成循环且没有出口:{nodes}。请从其中一个节点连一条线走出循环(最终通向结束节点)。",
            "en": "These nodes loop with no way out: {nodes}. "
            "Add an edge from one of them that leaves the loop (and leads on to an end).",
        },
        # --- gateways and conditions
        "check.flow.gateway_no_default": {
            "zh": "网关 {id}({type})有多条分支,但没有默认分支。请在其中一条连线上写 default: true,"
            "在条件都不成立时走它。",
            "en": "Gateway {id} ({type}) has several branches but no default. Mark one edge default: true; "
            "it is taken when no condition holds.",
        },
        "check.flow.gateway_many_defaults": {
            "zh": "网关 {id} 有不止一条默认分支(第一条通向 {first})。只保留一条 default: true,其余改为 if 条件。",
            "en": "Gateway {id} has more than one default branch (the first goes to {first}). "
            "Keep one default: true and give the others an if condition.",
        },
        "check.flow.branch_needs_condition": {
            "zh": "网关 {id} 通向 {to} 的分支既没有 if 条件也不是默认分支。请给它写 if 条件(或把它设为唯一的默认分支)。",
            "en": "The branch of gateway {id} to {to} has neither an if condition nor default: true. "
            "Give it an if condition (or make it the one default branch).",
        },
        "check.flow.if_off_gateway": {
            "zh": "节点 {id}({type})出去的连线不能带 if 条件:条件只在排他网关(exclusive)或包容网关(inclusive)处生效。"
            "请在 {id} 后加一个网关,把条件写在网关的分支上。",
            "en": "An edge out of node {id} ({type}) cannot have an if condition: conditions only decide at "
            "an exclusive or inclusive gateway. Put a gateway after {id} and write the condition on its branch.",
        },
        "check.flow.default_off_gateway": {
            "zh": "节点 {id}({type})出去的连线不能标 default:默认分支只属于排他网关或包容网关。请删除 default。",
            "en": "An edge out of node {id} ({type}) cannot be marked default: only exclusive and inclusive "
            "gateways have a default branch. Remove default.",
        },
        "check.flow.parallel_branch_condition": {
            "zh": "并行网关 {id} 的分支不能带 {key}:并行网关会同时走所有分支。"
            "要按条件选分支,请改用排他网关(exclusive)或包容网关(inclusive)。",
            "en": "A branch of parallel split {id} cannot have {key}: a parallel split takes every branch. "
            "To choose branches by condition use an exclusive or inclusive gateway instead.",
        },
        # --- joins
        "check.flow.join_never_completes": {
            "zh": "汇合节点 {id} 永远无法完成:它要等所有进来的分支都到达,但经过 {branches} 的分支在 {split}({type})"
            "处只会走其中一条。请在汇合前用普通节点合并这些分支,或在 {split} 处改用并行网关。",
            "en": "Join {id} can never complete: it waits for every incoming branch, but the branches through "
            "{branches} part at {split} ({type}), which takes only one of them. Merge those branches in an "
            "ordinary node before the join, or split at {split} with a parallel gateway.",
        },
        "check.flow.join_waits_for_itself": {
            "zh": "汇合节点 {id} 永远无法完成:它要等来自 {source} 的连线,而 {source} 只有在 {id} 完成后才能到达。"
            "请让这条回头的连线指向汇合之前的节点。",
            "en": "Join {id} can never complete: it waits for the edge from {source}, which can only be "
            "reached after {id} itself has completed. Point that looping edge at a node before the join.",
        },
        # --- start and end
        "check.flow.start_has_incoming": {
            "zh": "开始节点 {id} 不能有进来的连线(这条来自 {from})。要回到开头,请连到开始之后的第一个步骤。",
            "en": "Start node {id} cannot have incoming edges (this one comes from {from}). "
            "To go back to the beginning, point the edge at the first step after the start.",
        },
        "check.flow.end_has_outgoing": {
            "zh": "结束节点 {id} 不能有出去的连线(这条通向 {to}):流程到结束节点就结束了。请删除这条连线或改用其他节点。",
            "en": "End node {id} cannot have outgoing edges (this one goes to {to}): the flow stops at an end. "
            "Remove the edge, or start it from another node.",
        },
        # --- actions
        "check.flow.duplicate_action": {
            "zh": "节点 {id} 有两条连线使用同一个操作 {action}。每个操作只能对应一条连线,请改名或删除其中一条。",
            "en": "Two edges out of node {id} use the same action {action}. "
            "Each action takes one edge: rename or remove one of them.",
        },
        "check.flow.action_off_task": {
            "zh": "节点 {id}({type})出去的连线不能带操作 {action}:操作是人在任务(task)或审批(approval)节点上执行的。请删除 action。",
            "en": "An edge out of node {id} ({type}) cannot have the action {action}: actions are what "
            "people do at task and approval nodes. Remove action.",
        },
        "check.flow.requires_off_task": {
            "zh": "节点 {id}({type})出去的连线不能带 requires:只有人在任务(task)或审批(approval)节点上执行操作时才检查必填字段。请删除 requires。",
            "en": "An edge out of node {id} ({type}) cannot have requires: the fields are checked when a "
            "person acts at a task or approval node. Remove requires.",
        },
        # --- node keys by type
        "check.flow.key_not_for_node": {
            "zh": "{key} 只适用于 {owner} 节点,而节点 {id} 的类型是 {type}。请删除它,或把节点类型改为 {owner}。",
            "en": "{key} only applies to {owner} nodes, and node {id} is of type {type}. "
            "Remove it, or make the node of type {owner}.",
        },
        "check.flow.approval_needs_assignees": {
            "zh": "审批节点 {id} 的模式 {mode} 需要多个审批人。请用 assignees 列出审批人,或让 assignee 指向一组人(role 或 department_members)。",
            "en": "Approval {id} in mode {mode} needs several approvers. List them under assignees, "
            "or give an assignee that names a group (role or department_members).",
        },
        "check.flow.percentage_needs_threshold": {
            "zh": "审批节点 {id} 按比例审批(percentage),但没有 threshold。请写 threshold:0 到 1 之间表示比例(如 0.6),大于 1 表示人数。",
            "en": "Approval {id} is in percentage mode but has no threshold. Add threshold: a share between "
            "0 and 1 (e.g. 0.6), or a count of approvers above 1.",
        },
        "check.flow.threshold_not_percentage": {
            "zh": "审批节点 {id} 的模式是 {mode},threshold 只在 mode: percentage 时生效。请删除 threshold,或把模式改为 percentage。",
            "en": "Approval {id} is in mode {mode}; threshold only applies with mode: percentage. "
            "Remove threshold, or set the mode to percentage.",
        },
        "check.flow.threshold_above_assignees": {
            "zh": "审批节点 {id} 要求 {threshold} 人同意,但只列出了 {count} 位审批人,永远无法通过。请降低 threshold 或增加审批人。",
            "en": "Approval {id} needs {threshold} approvals but lists only {count} approvers, so it can never "
            "pass. Lower the threshold or add approvers.",
        },
        "check.flow.timer_needs_wait": {
            "zh": "定时节点 {id} 没有 wait。请写 wait: {{duration: 4h}},或 wait: {{until: 日期字段}}。",
            "en": "Timer node {id} has no wait. Add wait: {{duration: 4h}} or wait: {{until: <a date field>}}.",
        },
        "check.flow.auto_needs_actions": {
            "zh": "自动节点 {id} 没有 actions,它什么也不会做。请列出要执行的动作,或删除该节点。",
            "en": "Auto node {id} has no actions, so it does nothing. List the actions it runs, or remove it.",
        },
        "check.flow.subprocess_needs_type": {
            "zh": "子流程节点 {id} 没有 ticket_type。请写明它要创建并等待的工单类型。",
            "en": "Subprocess node {id} has no ticket_type. Name the ticket type it creates and waits for.",
        },
        "check.flow.subprocess_recursive": {
            "zh": "子流程节点 {id} 创建的是本工单类型 {name},会无限地创建下去。请改用另一个工单类型。",
            "en": "Subprocess node {id} creates a ticket of its own type {name}, which would recurse forever. "
            "Use another ticket type.",
        },
        # --- returns and reopening
        "check.flow.return_from_not_task": {
            "zh": "只有任务或审批节点可以退回,而 {id} 是 {type}。请从 returns 中删除它。",
            "en": "Only task and approval nodes can return a ticket, and {id} is of type {type}. "
            "Remove it from returns.",
        },
        "check.flow.return_to_not_task": {
            "zh": "只能退回到任务或审批节点,而 {id} 是 {type}。请改为退回到它之前的任务或审批节点。",
            "en": "A ticket can only be returned to a task or approval node, and {id} is of type {type}. "
            "Return to the task or approval before it instead.",
        },
        "check.flow.return_not_before": {
            "zh": "不能从 {source} 退回到 {target}:流程中 {target} 不在 {source} 之前。只能退回到更早的步骤。",
            "en": "{source} cannot return to {target}: {target} does not come before {source} in the flow. "
            "Only return to an earlier step.",
        },
        "check.flow.reopen_not_task": {
            "zh": "reopen_to 必须是任务或审批节点,而 {id} 是 {type}。请改为重新打开后要处理的那个任务或审批节点。",
            "en": "reopen_to must name a task or approval node, and {id} is of type {type}. "
            "Name the task or approval that picks the reopened ticket up.",
        },
        "check.bad_cron": {
            "zh": "定时表达式 {cron} 无效:{detail}。请写 5 段 cron(分 时 日 月 周),例如 0 9 * * 1 表示每周一 9:00。",
            "en": "The schedule {cron} is not valid: {detail}. Write a 5-field cron (minute hour day month weekday), e.g. 0 9 * * 1 for Mondays at 9:00.",
        },
    }
)
