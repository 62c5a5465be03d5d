"""Messages of the BPMN 2.0 import, in Chinese and English.

Each problem names the element (its id is the path ``bpmn:<id>``, its tag is in the text) and says
what to change in the modeler. Registered here so that the importer owns its words.
"""

from engine.i18n import register

_KEEP_ZH = "开始/结束事件、任务、网关和定时事件"
_KEEP_EN = "start/end events, tasks, gateways and timer events"

register(
    {
        # --- the file as a whole
        "bpmn.unreadable": {
            "zh": "无法读取 BPMN 文件 {name},未导入任何内容:",
            "en": "Cannot read the BPMN file {name}; nothing was imported:",
        },
        "bpmn.not_importable": {
            "zh": "BPMN 文件 {name} 有 {count} 处无法导入,未写入任何内容(详见 docs/bpmn.md):",
            "en": "The BPMN file {name} has {count} problem(s); nothing was written (see docs/bpmn.md):",
        },
        "bpmn.unreadable_file": {
            "zh": "无法读取文件:{reason}。请检查路径和权限。",
            "en": "Cannot read the file: {reason}. Check the path and its permissions.",
        },
        "bpmn.too_large": {
            "zh": "文件有 {size} 字节,超过上限 {limit} 字节。请拆分流程,或删除内嵌的图片和数据。",
            "en": (
                "The file has {size} bytes, more than the limit of {limit}. "
                "Split the process or remove embedded images and data."
            ),
        },
        "bpmn.xml_syntax": {
            "zh": "不是格式正确的 XML:{reason}。请从建模工具重新导出(BPMN 2.0 XML),不要手工修改。",
            "en": (
                "This is not well-formed XML: {reason}. "
                "Export the diagram again from the modeler (BPMN 2.0 XML) rather than editing it by hand."
            ),
        },
        "bpmn.xml_entities": {
            "zh": (
                "文件声明了 XML 实体 {entity}(<!ENTITY …>)。为安全起见(实体膨胀、读取服务器文件)一律拒绝;"
                "BPMN 文件不需要它。请删除 <!DOCTYPE …> 部分,或从建模工具重新导出。"
            ),
            "en": (
                "The file declares the XML entity {entity} (<!ENTITY …>). Entities are refused for safety "
                "(entity expansion, reading server files) and BPMN never needs them. Remove the "
                "<!DOCTYPE …> block or export the diagram again from the modeler."
            ),
        },
        "bpmn.xml_external": {
            "zh": "文件引用了外部资源 {ref}。为安全起见拒绝读取。请删除 <!DOCTYPE …> 部分后重试。",
            "en": (
                "The file refers to the external resource {ref}, which is refused for safety. "
                "Remove the <!DOCTYPE …> block and try again."
            ),
        },
        "bpmn.not_bpmn": {
            "zh": "根元素是 {tag},不是 BPMN 2.0 的 definitions。请在建模工具中以 BPMN 2.0 XML 格式导出。",
            "en": (
                "The root element is {tag}, not a BPMN 2.0 definitions element. "
                "Export the diagram as BPMN 2.0 XML from the modeler."
            ),
        },
        "bpmn.no_process": {
            "zh": "文件中没有流程(process)。请在建模工具中画出流程后再导出。",
            "en": "The file holds no process. Draw the process in the modeler, then export it.",
        },
        "bpmn.choose_process": {
            "zh": "文件中有多个流程({ids}),无法确定导入哪一个。请用 --process 指定其中一个的 id。",
            "en": "The file holds several processes ({ids}). Name the one to import with --process ID.",
        },
        "bpmn.unknown_process": {
            "zh": "没有 id 为 {id} 的流程或参与者。文件中的流程:{ids}。",
            "en": "There is no process or participant with id {id}. Processes in the file: {ids}.",
        },
        "bpmn.no_start": {
            "zh": "流程没有开始事件。请添加一个普通(无触发器)的开始事件。",
            "en": "The process has no start event. Add a plain start event (without a trigger).",
        },
        "bpmn.several_starts": {
            "zh": "{tag} 是第二个开始事件(第一个是 {first})。工单流程只有一个开始,请删除多余的开始事件。",
            "en": (
                "This {tag} is a second start (the first is {first}). A ticket flow has one start; "
                "remove the extra start event."
            ),
        },
        "bpmn.no_end": {
            "zh": "流程没有结束事件。请添加一个结束事件。",
            "en": "The process has no end event. Add an end event.",
        },
        # --- elements without an equivalent
        "bpmn.unsupported": {
            "zh": f"元素 {{tag}} 无法导入:工单流程中没有对应的东西。请删除它,或只用{_KEEP_ZH}重画这一段。",
            "en": (
                "The element {tag} cannot be imported: Gongdan flows have nothing like it. "
                f"Remove it, or redraw this part with {_KEEP_EN}."
            ),
        },
        "bpmn.event_trigger": {
            "zh": (
                "{tag}(触发器:{kind})无法导入:工单流程不收发消息、信号、错误或升级事件。"
                "请在建模工具中改为普通事件(不带触发器);需要时导入后用规则实现响应。"
            ),
            "en": (
                "This {tag} (trigger: {kind}) cannot be imported: Gongdan flows do not send or wait "
                "for messages, signals, errors or escalations. Make it a plain event (no trigger) in "
                "the modeler; automate the reaction with a rule after import if needed."
            ),
        },
        "bpmn.throw_event": {
            "zh": "中间抛出事件({kind})在工单流程中没有意义。请删除它,并把前后的连线直接相连。",
            "en": (
                "An intermediate throw event ({kind}) has no meaning in a Gongdan flow. "
                "Remove it and connect the flows before and after it directly."
            ),
        },
        "bpmn.boundary": {
            "zh": (
                "附着在 {attached} 上的 {kind} 边界事件无法导入。期限请在导入后用该节点的 sla 和 "
                "reminders 设置;出错分支请在任务后画一个排他网关。请在建模工具中删除该边界事件。"
            ),
            "en": (
                "The {kind} boundary event on {attached} cannot be imported. For a deadline, set the "
                "node's sla and reminders after import; for an error path, draw an exclusive gateway "
                "after the task. Remove the boundary event in the modeler."
            ),
        },
        "bpmn.gateway": {
            "zh": "{tag} 无法导入:请改用带条件的排他网关(exclusiveGateway),需要等待时间时用定时事件。",
            "en": (
                "This {tag} cannot be imported. Use an exclusive gateway with conditions instead, "
                "and a timer event where the flow should wait."
            ),
        },
        "bpmn.sub_process": {
            "zh": "内嵌子流程({tag})无法导入。请把其中的步骤画进主流程,或改为调用另一工单类型的调用活动。",
            "en": (
                "An embedded sub-process ({tag}) cannot be imported. Draw its steps into the main flow, "
                "or make it a call activity to another ticket type."
            ),
        },
        "bpmn.data": {
            "zh": (
                "数据对象/数据存储({tag})无法导入:工单的数据就是表单字段。请从图中删除它,并把数据加为"
                "表单字段。"
            ),
            "en": (
                "Data objects and stores ({tag}) cannot be imported: a ticket's data are its form fields. "
                "Remove it from the diagram and add the data as form fields."
            ),
        },
        "bpmn.listener": {
            "zh": (
                "{tag} 带有监听器 {listener},它运行的代码工单平台无法运行。请删除它;导入后用规则"
                "(stage_entered)实现。"
            ),
            "en": (
                "This {tag} has a listener ({listener}), which runs code Gongdan cannot run. Remove it; "
                "automate the same with a rule (on stage_entered) after import."
            ),
        },
        "bpmn.multi_instance": {
            "zh": (
                "多实例 {tag} 无法导入。多人审批请在导入后用审批节点(mode: countersign 或 or_sign,多个"
                " assignees);请在建模工具中去掉多实例标记。"
            ),
            "en": (
                "This {tag} is multi-instance and cannot be imported. For several approvers, use an "
                "approval node (mode countersign or or_sign with several assignees) after import; remove the "
                "multi-instance marker in the modeler."
            ),
        },
        "bpmn.loop": {
            "zh": "循环 {tag} 无法导入。请去掉循环标记,用网关连线回到前面的节点来表示重复。",
            "en": (
                "This {tag} loops and cannot be imported. Remove the loop marker and draw the repetition "
                "with a gateway and a flow back to the earlier node."
            ),
        },
        "bpmn.compensation": {
            "zh": "补偿活动 {tag} 无法导入。请删除它;需要撤销时导入后用退回(returns)或规则实现。",
            "en": (
                "This {tag} is a compensation activity and cannot be imported. Remove it; undo steps "
                "after import with returns or a rule."
            ),
        },
        "bpmn.due_date": {
            "zh": (
                "{tag} 设置了到期/跟进日期,无法导入。请在建模工具中删除它,导入后用该节点的 sla 设置期限。"
            ),
            "en": (
                "This {tag} has a due or follow-up date, which cannot be imported. Remove it in the "
                "modeler and give the node an sla after import."
            ),
        },
        # --- tasks
        "bpmn.service_task": {
            "zh": (
                "{tag}({impl})运行的代码工单平台无法运行,不能变成自动节点。只有固定 URL 和方法的 HTTP "
                "连接器(Camunda 7 http-connector、Camunda 8 REST connector)会被导入。请改为用户任务,"
                "或删除它并在导入后添加带 actions 的 auto 节点。"
            ),
            "en": (
                "This {tag} ({impl}) runs code Gongdan cannot run, so it cannot become an automatic step. "
                "Only HTTP connectors (Camunda 7 http-connector, Camunda 8 REST connector) with a fixed "
                "URL and method are imported. Make it a user task, or remove it and add an auto node "
                "with actions after import."
            ),
        },
        "bpmn.http_connector": {
            "zh": (
                "{tag} 的 HTTP 连接器无法导入:{reason}。只保留固定的 URL 和方法,其余在导入后写到 call "
                "动作里。"
            ),
            "en": (
                "The HTTP connector of this {tag} cannot be imported: {reason}. Keep only a fixed URL "
                "and method; add the rest to the call action after import."
            ),
        },
        "bpmn.http_url": {
            "zh": "URL {url} 不是固定的 http(s) 地址",
            "en": "the URL {url} is not a fixed http(s) address",
        },
        "bpmn.http_method": {
            "zh": "方法 {method} 不受支持(可用:{known})",
            "en": "the method {method} is not supported (known: {known})",
        },
        "bpmn.http_input": {
            "zh": "输入 {name} 无法对应(只支持 url、method 和超时)",
            "en": "the input {name} has no equivalent (only url, method and timeouts are kept)",
        },
        "bpmn.http_result": {
            "zh": "它把响应写入变量({name});工单没有流程变量,请导入后用 call 的 map 写入表单字段",
            "en": (
                "it stores the response ({name}); tickets have no process variables, so map the "
                "response to form fields with the call action's map after import"
            ),
        },
        "bpmn.script_task": {
            "zh": (
                "脚本任务({format})无法导入:工单平台不运行脚本。请改为用户任务,或导入后用 auto 节点的 "
                "set 动作。"
            ),
            "en": (
                "A script task ({format}) cannot be imported: Gongdan does not run scripts. Make it a "
                "user task, or use an auto node with set actions after import."
            ),
        },
        "bpmn.receive_task": {
            "zh": "接收任务等待消息,无法导入。请改为用户任务(由人确认收到)。",
            "en": (
                "A receive task waits for a message and cannot be imported. Make it a user task "
                "(someone confirms the receipt)."
            ),
        },
        "bpmn.business_rule_task": {
            "zh": "业务规则任务(DMN)无法导入。请把决策写成排他网关的条件,或导入后用规则实现。",
            "en": (
                "A business rule task (DMN) cannot be imported. Write the decision as the conditions "
                "of an exclusive gateway, or as a rule after import."
            ),
        },
        "bpmn.call_target_missing": {
            "zh": "调用活动没有指定被调用的流程。请把 calledElement 设为本应用中某个工单类型的标识。",
            "en": (
                "The call activity names no called process. Set calledElement to the key of a "
                "ticket type of this app."
            ),
        },
        "bpmn.call_target_expression": {
            "zh": "调用活动的目标是表达式 {value},无法导入。请写成本应用中某个工单类型的固定标识。",
            "en": (
                "The call activity's target is the expression {value}, which cannot be imported. "
                "Write the fixed key of a ticket type of this app."
            ),
        },
        "bpmn.call_target_not_key": {
            "zh": (
                "被调用的流程 {value} 不是工单类型的标识(小写字母开头,只含小写字母、数字、下划线),例如"
                " {key}。"
            ),
            "en": (
                "The called process {value} is not a ticket-type key (a lowercase letter, then "
                "lowercase letters, digits or _), e.g. {key}. Use the key of a ticket type of this app."
            ),
        },
        "bpmn.call_mappings": {
            "zh": (
                "调用活动带有变量映射(in/out、ioMapping),子工单不会按它传递数据。请删除映射;子工单的字"
                "段由其表单填写。"
            ),
            "en": (
                "The call activity maps variables (in/out, ioMapping); a sub-ticket does not pass data "
                "that way. Remove the mappings; the sub-ticket's fields come from its own form."
            ),
        },
        # --- assignees
        "bpmn.several_assignees": {
            "zh": "{tag} 同时设置了 {kinds}。工单节点只有一种处理人规则,请只保留其中一个。",
            "en": "This {tag} sets {kinds}. A Gongdan node has one assignee rule; keep only one of them.",
        },
        "bpmn.several_groups": {
            "zh": "候选组 {groups} 有多个。请只保留一个(对应应用的一个角色),或导入后使用 dispatch 分派。",
            "en": (
                "The candidate groups {groups} are several. Keep one (it becomes a role of the app), "
                "or use a dispatch after import."
            ),
        },
        "bpmn.group_not_key": {
            "zh": (
                "候选组 {group} 不是角色标识(小写字母开头,只含小写字母、数字、下划线)。请改为应用中的"
                "角色标识,例如 {key}。"
            ),
            "en": (
                "The candidate group {group} is not a role key (a lowercase letter, then lowercase "
                "letters, digits or _). Use the key of a role of the app, e.g. {key}."
            ),
        },
        "bpmn.group_expression": {
            "zh": "候选组是表达式 {value},无法导入。请写成应用中某个角色的固定标识。",
            "en": (
                "The candidate groups are the expression {value}. Write the fixed key of a role of the app."
            ),
        },
        "bpmn.assignee_expression": {
            "zh": (
                "处理人表达式 {value} 无法转换:{reason}。请写成用户名,或简单的字段名表达式如 ${{owner}}。"
            ),
            "en": (
                "The assignee expression {value} cannot be translated: {reason}. Write a username, or a "
                "simple field expression such as ${{owner}}."
            ),
        },
        # --- timers
        "bpmn.timer_cycle": {
            "zh": (
                "循环定时器(timeCycle)无法导入。请改为时长(timeDuration,如 PT4H);重复提醒请在导入后用 "
                "reminders。"
            ),
            "en": (
                "A timer cycle cannot be imported. Use a duration (timeDuration, e.g. PT4H); for "
                "repeated reminders use the node's reminders after import."
            ),
        },
        "bpmn.timer_date": {
            "zh": "定时日期 {value} 无法导入。请写成时长(如 P2D),或写成日期字段的表达式如 ${{due_date}}。",
            "en": (
                "The timer date {value} cannot be imported. Use a duration (e.g. P2D), or an expression "
                "naming a date field of the form, such as ${{due_date}}."
            ),
        },
        "bpmn.timer_missing": {
            "zh": "定时事件没有设置时间。请设置时长(timeDuration,如 PT4H)。",
            "en": "The timer event has no time. Set a duration (timeDuration, e.g. PT4H).",
        },
        "bpmn.timer_expression": {
            "zh": "定时时长是表达式 {value},无法导入。请写成固定的 ISO 8601 时长,如 PT30M、PT4H、P2D。",
            "en": (
                "The timer duration is the expression {value}, which cannot be imported. Write a fixed "
                "ISO 8601 duration such as PT30M, PT4H or P2D."
            ),
        },
        "bpmn.timer_bad_duration": {
            "zh": "定时时长 {value} 不是 ISO 8601 时长。请写成如 PT30M、PT4H、P2D、P1W 的形式。",
            "en": (
                "The timer duration {value} is not an ISO 8601 duration. Write e.g. PT30M, PT4H, P2D or P1W."
            ),
        },
        "bpmn.timer_months": {
            "zh": "定时时长 {value} 以年或月计,长度不固定。请换算成天或周(如 P30D)。",
            "en": (
                "The timer duration {value} counts years or months, which vary in length. Write days "
                "or weeks (e.g. P30D)."
            ),
        },
        "bpmn.timer_seconds": {
            "zh": "定时时长 {value} 不是整分钟;工单的定时器按分钟计。请取整到分钟(如 PT1M)。",
            "en": (
                "The timer duration {value} is not whole minutes; Gongdan timers count minutes. "
                "Round it (e.g. PT1M)."
            ),
        },
        # --- sequence flows and conditions
        "bpmn.dangling_flow": {
            "zh": "顺序流指向不在本流程中的元素 {ref}。请在建模工具中重新连接或删除这条连线。",
            "en": (
                "The sequence flow refers to {ref}, which is not in this process. Reconnect or "
                "remove it in the modeler."
            ),
        },
        "bpmn.conditional_flow": {
            "zh": (
                "从 {source} 出发的条件顺序流:条件只能写在排他或包容网关之后。请在 {source} 后插入一个"
                "排他网关,把条件移到网关的出线上。"
            ),
            "en": (
                "This conditional sequence flow leaves {source}; conditions belong after an exclusive or "
                "inclusive gateway. Put an exclusive gateway after {source} and move the condition to its "
                "outgoing flow."
            ),
        },
        "bpmn.default_with_condition": {
            "zh": (
                "这条顺序流是网关 {gateway} 的默认分支,却也带有条件。请删除它的条件(默认分支在其他条件"
                "都不成立时走)。"
            ),
            "en": (
                "This sequence flow is the default of gateway {gateway} and also has a condition. Remove "
                "the condition: the default is taken when no other condition holds."
            ),
        },
        "bpmn.branch_without_condition": {
            "zh": (
                "网关 {gateway} 的这条出线既没有条件也不是默认分支。请给它加条件,或把它设为网关的默认分支。"
            ),
            "en": (
                "This flow out of gateway {gateway} has no condition and is not the default. Give it a "
                "condition, or make it the gateway's default flow."
            ),
        },
        "bpmn.condition": {
            "zh": (
                "条件 {source} 无法转换:{reason}。请在建模工具中改写为简单比较,如 $"
                "{{amount > 1000 && vip}} 或 amount > 1000 and vip(见 docs/expressions.md)。"
            ),
            "en": (
                "The condition {source} cannot be translated: {reason}. Rewrite it in the modeler as a "
                "simple comparison such as ${{amount > 1000 && vip}} or amount > 1000 and vip "
                "(see docs/expressions.md)."
            ),
        },
        "bpmn.condition_script": {
            "zh": "条件是脚本({language}),无法导入。请改写为表达式,如 ${{amount > 1000}}。",
            "en": (
                "The condition is a script ({language}), which cannot be imported. Write an "
                "expression such as ${{amount > 1000}}."
            ),
        },
        "bpmn.expr_char": {
            "zh": "第 {column} 列的字符 {char} 无法对应",
            "en": "the character {char} at column {column} has no equivalent",
        },
        "bpmn.expr_assign": {
            "zh": "第 {column} 列的 = 是赋值;比较请写 ==",
            "en": "the = at column {column} assigns; write == to compare",
        },
        "bpmn.expr_end": {"zh": "表达式不完整", "en": "the expression ends too early"},
        "bpmn.expr_unexpected": {
            "zh": "第 {column} 列出现了意外的 {token}",
            "en": "{token} at column {column} is unexpected here",
        },
        "bpmn.expr_unsupported": {
            "zh": "第 {column} 列的 {token} 在工单表达式中没有对应",
            "en": "{token} at column {column} has no equivalent in Gongdan expressions",
        },
        "bpmn.expr_method": {
            "zh": "第 {column} 列调用了方法 {method}();工单表达式只能读取字段,请改写为字段比较",
            "en": "the method call {method}() at column {column} has no equivalent; compare fields instead",
        },
        # --- command line
        "bpmn.bad_into": {
            "zh": (
                "--into {value} 的格式不对。请写成 应用标识:工单类型标识,例如 --into complaint:complaint。"
            ),
            "en": "--into {value} is not APP_KEY:TICKET_TYPE. Write e.g. --into complaint:complaint.",
        },
        "bpmn.into_one_file": {
            "zh": "--into 一次只能导入一个 BPMN 文件(给了 {count} 个)。请逐个导入。",
            "en": "--into imports one BPMN file at a time ({count} given). Import them one by one.",
        },
        "bpmn.needs_into": {
            "zh": "{file} 是 BPMN 文件。请用 --into 应用标识:工单类型标识 指定替换哪个工单类型的流程。",
            "en": "{file} is a BPMN file. Say whose flow it replaces with --into APP_KEY:TICKET_TYPE.",
        },
        "bpmn.unknown_ticket_type": {
            "zh": (
                "应用 {app} 没有工单类型 {ticket_type}。已有:{known}。请先在应用定义中添加该工单类型("
                "含表单)。"
            ),
            "en": (
                "App {app} has no ticket type {ticket_type}. It has: {known}. Add the ticket type "
                "(with its form) to the app definition first."
            ),
        },
        "bpmn.hint_process": {"zh": "来自 BPMN 流程 {process}", "en": "from BPMN process {process}"},
        "bpmn.hint_renamed": {"zh": "{id} → {key}", "en": "{id} → {key}"},
        "bpmn.hint_lane": {"zh": "泳道 {lane}:{nodes}", "en": "lane {lane}: {nodes}"},
    }
)
