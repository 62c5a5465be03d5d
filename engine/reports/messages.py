"""Messages of the report engine, in Chinese and English: what is wrong with a report and what to do."""

from engine.i18n import register

register(
    {
        # --- a report definition (checked when an app is loaded, and for ad-hoc reports)
        "report.axis_hours": {"zh": "小时", "en": "hours"},
        "report.unknown_target": {
            "zh": "{name} 不是指标或人员属性。可用:{known}。",
            "en": "{name} is not a metric or a person's attribute. Known: {known}.",
        },
        "report.field_not_reportable": {
            "zh": "字段 {field}({type})的值是文件或明细行，不能用于报表。请改用其他字段。",
            "en": "Field {field} ({type}) holds files or rows, which a report cannot read. Use another field.",
        },
        "report.unknown_bucket": {
            "zh": "时间粒度 {unit} 不存在。请使用:{known}。",
            "en": "There is no time bucket {unit}. Use one of: {known}.",
        },
        "report.unknown_function": {
            "zh": "维度函数 {name} 不存在。请使用:{known}。",
            "en": "There is no dimension function {name}. Use one of: {known}.",
        },
        "report.bucket_not_time": {
            "zh": "{name} 是{kind}，不是时间，不能按时间分组。请对日期或时间字段(如 created_at)分组。",
            "en": "{name} is a {kind}, not a time, so it cannot be bucketed. Bucket a date or time such as created_at.",
        },
        "report.measure_shape": {
            "zh": "度量要么是 count，要么是恰好一个聚合 {聚合: 目标}(可加 as 别名)。聚合可用:{known}。",
            "en": "A measure is count or exactly one {aggregate: target} (with an optional as). Aggregates: {known}.",
        },
        "report.measure_not_numeric": {
            "zh": "{agg} 需要数值，但 {name} 是{kind}。请换成数值字段或指标，或改用 count/distinct。",
            "en": "{agg} needs numbers but {name} is a {kind}. Pick a number field or metric, or use count/distinct.",
        },
        "report.rate_not_bool": {
            "zh": "rate 需要是/否的目标或条件，但 {name} 是{kind}。请写成条件，如 \"priority == 'P1'\"。",
            "en": "rate needs a yes/no target or a condition, but {name} is a {kind}. Write a condition such as \"priority == 'P1'\".",
        },
        "report.duplicate_name": {
            "zh": "报表中有两列都叫 {name}。请用 as 给其中一个改名。",
            "en": "Two columns of the report are named {name}. Rename one with as.",
        },
        "report.unknown_column": {
            "zh": "{name} 不是此报表的维度或度量。可用:{known}。",
            "en": "{name} is not a dimension or measure of this report. Known: {known}.",
        },
        "report.running_not_additive": {
            "zh": "累计只适用于可相加的度量(count、sum)，{name} 不行。请删除它或改用 count/sum。",
            "en": "Running totals add up, so they need count or sum; {name} is neither. Remove it or use count/sum.",
        },
        "report.chart_dimensions": {
            "zh": "{chart} 图需要 {count} 个维度(现有 {given} 个)。请调整维度或换一种图。",
            "en": "A {chart} chart needs {count} dimension(s) (it has {given}). Change the dimensions or the chart.",
        },
        "report.filter_shape": {
            "zh": "筛选条件要写成 {field, op, value}。",
            "en": "Write a filter as {field, op, value}.",
        },
        "report.unknown_op": {
            "zh": "筛选运算 {op} 不存在。请使用:{known}。",
            "en": "There is no filter operator {op}. Use one of: {known}.",
        },
        "report.filter_value_type": {
            "zh": "{name} 是{kind}，值 {value} 与之不符。请给出{kind}类型的值(日期写成 2026-12-01)。",
            "en": "{name} is a {kind}; the value {value} does not fit. Give a {kind} value (dates as 2026-12-01).",
        },
        "report.filter_needs_list": {
            "zh": "{op} 需要一个非空列表作为值，如 [P1, P2]。",
            "en": "{op} needs a non-empty list as its value, e.g. [P1, P2].",
        },
        "report.filter_needs_pair": {
            "zh": "between 需要两个值 [起, 止]。",
            "en": "between needs two values: [from, to].",
        },
        "report.relative_not_time": {
            "zh": "相对日期只适用于日期或时间，{name} 是{kind}。请改用 created_at 等时间。",
            "en": "Relative dates apply to dates and times; {name} is a {kind}. Use a time such as created_at.",
        },
        "report.bad_duration": {
            "zh": "时长 {value} 无法识别。请写成 24h、7d、4w、3mo、2q 或 1y。",
            "en": "The duration {value} is not understood. Write 24h, 7d, 4w, 3mo, 2q or 1y.",
        },
        "report.bad_period": {
            "zh": "时段 {value} 无法识别。请使用:{known}。",
            "en": "The period {value} is not understood. Use one of: {known}.",
        },
        # --- running reports
        "report.unknown_report": {
            "zh": "报表 {id} 不存在。已有报表:{known}。",
            "en": "Report {id} does not exist. Known reports: {known}.",
        },
        "report.unknown_dashboard": {
            "zh": "看板 {id} 不存在。请检查看板 id。",
            "en": "Dashboard {id} does not exist. Check its id.",
        },
        "report.filter_not_offered": {
            "zh": "{path}:看板不提供按 {field} 筛选。可用的筛选:{known}。",
            "en": "{path}: the dashboard offers no filter on {field}. Its filters: {known}.",
        },
        "report.bad_cell": {
            "zh": "钻取的单元格含有报表没有的维度 {name}。报表的维度:{known}。",
            "en": "The drill-down cell names {name}, which the report does not group by. Its dimensions: {known}.",
        },
        "report.field_hidden": {
            "zh": "报表 {report}({path})用到了你无权查看的字段 {field}。请去掉它，或请管理员授予权限。",
            "en": "Report {report} ({path}) reads field {field}, which you may not see. Remove it or ask an admin for access.",
        },
        "report.too_slow": {
            "zh": "报表 {report} 在 {seconds} 秒内没有算完，已停止。请缩小范围(如加时间筛选)后再试。",
            "en": "Report {report} did not finish within {seconds} s and was stopped. Narrow it (e.g. filter by time) and try again.",
        },
        "report.too_many_groups": {
            "zh": "报表 {report} 的分组超过 {max} 个。请加筛选、用 top 或换更粗的维度。",
            "en": "Report {report} has more than {max} groups. Add filters, use top, or group more coarsely.",
        },
        "report.compare_needs_period": {
            "zh": "报表 {report} 要与上期对比，需要时间维度或相对日期筛选(如 last 7d、this month)。",
            "en": "Report {report} compares with the previous period, so it needs a time bucket or a relative date filter (last 7d, this month).",
        },
        "report.unknown_export": {
            "zh": "不支持导出格式 {format}。请使用:{known}。",
            "en": "Export format {format} is not supported. Use one of: {known}.",
        },
        # --- labels
        "report.none": {"zh": "(空)", "en": "(none)"},
        "report.others": {"zh": "其他", "en": "Others"},
        "report.yes": {"zh": "是", "en": "yes"},
        "report.no": {"zh": "否", "en": "no"},
        "report.change": {"zh": "较上期 {change}", "en": "{change} on the previous period"},
        "report.status.open": {"zh": "处理中", "en": "open"},
        "report.status.closed": {"zh": "已关闭", "en": "closed"},
        "report.status.cancelled": {"zh": "已取消", "en": "cancelled"},
        "report.column.number": {"zh": "工单号", "en": "Number"},
        "report.column.stage": {"zh": "阶段", "en": "Stage"},
        "report.column.status": {"zh": "状态", "en": "Status"},
        "report.column.created_at": {"zh": "创建时间", "en": "Created"},
        "report.column.closed_at": {"zh": "关闭时间", "en": "Closed"},
        # --- the command line
        "report.rebuilt": {
            "zh": "已根据事件重算 {count} 张工单的指标。",
            "en": "Rebuilt the metrics of {count} ticket(s) from their events.",
        },
    }
)
