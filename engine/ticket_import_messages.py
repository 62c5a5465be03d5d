"""Messages of the ticket import and export (engine/ticket_import.py, engine/ticket_export.py)."""

from engine.i18n import register

register(
    {
        # --- the file
        "import.unknown_format": {
            "zh": "无法读取文件 {name}:只支持 .xlsx 和 .csv。请在 Excel 中“另存为”其中一种格式后重新上传。",
            "en": "Cannot read {name}: only .xlsx and .csv are supported. Save it as one of them in Excel "
            "and upload it again.",
        },
        "import.unreadable": {
            "zh": "无法读取文件 {name}({reason})。请确认它是完整的 Excel/CSV 文件,用 Excel 打开后另存一次再上传。",
            "en": "Cannot read {name} ({reason}). Check it is a complete Excel/CSV file; open it in Excel, "
            "save it again and upload that.",
        },
        "import.bad_encoding": {
            "zh": "文件 {name} 的编码无法识别(既不是 UTF-8 也不是 GBK,第 {line} 行附近)。"
            "请在 Excel 中另存为“CSV UTF-8(逗号分隔)”后重新上传。",
            "en": "The text encoding of {name} is neither UTF-8 nor GBK (near line {line}). "
            'Save it from Excel as "CSV UTF-8 (comma delimited)" and upload it again.',
        },
        "import.empty": {
            "zh": "文件 {name} 没有表头行。第一行须为列名(如“工单号”“标题”)。",
            "en": "{name} has no header row. The first row must hold the column names "
            '(such as "Number", "Title").',
        },
        "import.too_many_rows": {
            "zh": "文件有 {rows} 行数据,超过了上限 {limit} 行。请拆分为多个文件分批导入"
            "(或由管理员调整 GONGDAN_IMPORT_MAX_ROWS)。",
            "en": "The file has {rows} data rows, more than the limit of {limit}. Split it into several files "
            "and import them one by one (or an admin raises GONGDAN_IMPORT_MAX_ROWS).",
        },
        "import.duplicate_header": {
            "zh": "列名“{column}”出现了不止一次。请让每列的表头唯一。",
            "en": 'The column "{column}" appears more than once. Give each column a header of its own.',
        },
        # --- the mapping
        "import.mapping_unknown_column": {
            "zh": "映射中的列“{column}”不在文件中。文件的列:{known}。",
            "en": 'The mapping names the column "{column}", which the file does not have. '
            "The file's columns: {known}.",
        },
        "import.mapping_unknown_target": {
            "zh": "列“{column}”映射到了不存在的字段 {target}。可选:{known}。",
            "en": 'The column "{column}" is mapped to {target}, which is not a field. Choose one of: {known}.',
        },
        "import.mapping_twice": {
            "zh": "字段 {target} 被映射了两次(列“{first}”和“{column}”)。每个字段只能来自一列。",
            "en": 'The field {target} is mapped twice (columns "{first}" and "{column}"). '
            "Map each field from one column only.",
        },
        "import.mapping_not_importable": {
            "zh": "字段 {target}({type})不能从表格导入(附件、公式和自动编号由系统生成)。请取消这一列的映射。",
            "en": "The field {target} ({type}) cannot be imported from a sheet (files, formulas and "
            "auto-numbers are made by Gongdan). Leave that column unmapped.",
        },
        "import.mapping_missing_required": {
            "zh": "必填字段 {field}({label})没有对应的列。请把一列映射到它。",
            "en": "The required field {field} ({label}) has no column. Map a column to it.",
        },
        "import.mapping_invalid": {
            "zh": "映射有 {count} 处错误,未导入任何内容:",
            "en": "The column mapping has {count} problem(s); nothing was imported:",
        },
        "import.mapping_not_found": {
            "zh": "没有名为“{name}”的已保存映射。已有:{known}。",
            "en": 'There is no saved mapping called "{name}". Saved ones: {known}.',
        },
        "import.mapping_name": {
            "zh": "映射名须为 1–100 个字符。",
            "en": "A mapping name has 1–100 characters.",
        },
        "import.job_not_found": {
            "zh": "导入任务 {ident} 不存在。",
            "en": "Import job {ident} does not exist.",
        },
        "import.job_running": {
            "zh": "导入任务 {ident} 正在运行(已处理 {done}/{total} 行),请等它结束。",
            "en": "Import job {ident} is running ({done}/{total} rows done); wait for it to finish.",
        },
        "import.job_checking": {
            "zh": "导入任务 {ident} 还在检查中(已检查 {done} 行),检查完成后才能导入。",
            "en": "Import job {ident} is still being checked ({done} rows so far); import it once the "
            "check is done.",
        },
        "import.job_not_checked": {
            "zh": "导入任务 {ident} 没有通过检查(文件或列映射有问题),无法导入。请修正后重新上传。",
            "en": "Import job {ident} did not pass its check (a problem with the file or the column "
            "mapping), so it cannot be imported. Fix it and upload the file again.",
        },
        "import.file_gone": {
            "zh": "导入任务 {ident} 的文件已不在服务器上。请重新上传文件。",
            "en": "The file of import job {ident} is no longer on the server. Upload it again.",
        },
        "import.file_changed": {
            "zh": "导入任务 {ident} 的文件已被改动(校验和不同)。请重新上传文件。",
            "en": "The file of import job {ident} has changed (its checksum differs). Upload it again.",
        },
        "import.file_too_large": {
            "zh": "文件超过 {limit_mb} MB。请拆分后分批导入。",
            "en": "The file is larger than {limit_mb} MB. Split it and import the parts one by one.",
        },
        "import.no_file": {
            "zh": "请上传一个 .xlsx 或 .csv 文件(表单字段 file)。",
            "en": "Upload an .xlsx or .csv file (form field file).",
        },
        # --- values of a row
        "import.row_problem": {"zh": "{message}", "en": "{message}"},
        "import.not_number": {
            "zh": "“{value}”不是数字。请填写如 12 或 3.5 的数。",
            "en": '"{value}" is not a number. Write a number such as 12 or 3.5.',
        },
        "import.not_date": {
            "zh": "“{value}”不是日期。请写成 2026-11-03、2026/11/3 或 2026年11月3日。",
            "en": '"{value}" is not a date. Write it as 2026-11-03, 2026/11/3 or 2026年11月3日.',
        },
        "import.not_datetime": {
            "zh": "“{value}”不是时间。请写成 2026-11-03 14:05、2026/11/3 14:05 或 2026年11月3日 14:05。",
            "en": '"{value}" is not a date and time. Write it as 2026-11-03 14:05, 2026/11/3 14:05 or '
            "2026年11月3日 14:05.",
        },
        "import.not_boolean": {
            "zh": "“{value}”不是是/否。请填写 是、否、true 或 false。",
            "en": '"{value}" is not yes/no. Write 是, 否, yes, no, true or false.',
        },
        "import.not_option": {
            "zh": "“{value}”不是可选项。可选:{options}。",
            "en": '"{value}" is not one of the options: {options}.',
        },
        "import.no_user": {
            "zh": "找不到用户“{value}”(按用户名、姓名、手机号、邮箱查找)。请先在管理后台添加此人,或改为已有用户。",
            "en": 'No user "{value}" (looked up by username, name, mobile and email). Add the person in the '
            "admin first, or name an existing user.",
        },
        "import.ambiguous_user": {
            "zh": "有 {count} 位用户都叫“{value}”。请改填用户名或手机号以区分。",
            "en": '{count} users are called "{value}". Write their username or mobile number instead.',
        },
        "import.no_department": {
            "zh": "找不到部门“{value}”。请填写已有部门的名称。",
            "en": 'No department "{value}". Write the name of an existing department.',
        },
        "import.not_rows": {
            "zh": '子表须为 JSON 列表,如 [{{"sku": "A-1"}}]。',
            "en": 'A sub-table is a JSON list such as [{{"sku": "A-1"}}].',
        },
        "import.bad_stage": {
            "zh": "“{value}”不是此工单类型的阶段。可选:{known}。",
            "en": '"{value}" is not a stage of this ticket type. Stages: {known}.',
        },
        "import.stage_not_workable": {
            "zh": "列“{column}”的阶段“{value}”没有人处理(网关、结束等环节),未关闭的工单只能导入到这些阶段:"
            "{allowed}。如果这张工单已经结束,请把状态填为 已关闭 并填写关闭时间。",
            "en": 'The stage "{value}" in column "{column}" is not worked on by anyone (a gateway, the end …); '
            "an open ticket can only be imported at one of these stages: {allowed}. If the ticket is "
            "finished, set its status to closed and give its closing time.",
        },
        "import.bad_status": {
            "zh": "“{value}”不是状态。请填写 处理中/open、已关闭/closed 或 已取消/cancelled。",
            "en": '"{value}" is not a status. Write open (处理中), closed (已关闭) or cancelled (已取消).',
        },
        "import.closed_without_date": {
            "zh": "工单已关闭,但没有关闭时间。请在关闭时间列填写它关闭的时间。",
            "en": "The ticket is closed but has no closing time. Fill in when it was closed.",
        },
        "import.closed_before_created": {
            "zh": "关闭时间 {closed} 早于创建时间 {created}。请核对这两个时间。",
            "en": "It was closed ({closed}) before it was created ({created}). Check both times.",
        },
        "import.duplicate_ref": {
            "zh": "工单号“{ref}”在文件中重复(第 {first} 行已有)。每个工单只能出现一次。",
            "en": 'The ticket number "{ref}" appears twice in the file (first in row {first}). '
            "Each ticket may appear once.",
        },
        "import.duplicate_row": {
            "zh": "这一行与第 {first} 行完全相同。请删除重复的行,或加一列工单号。",
            "en": "This row is the same as row {first}. Delete the duplicate, or add a ticket number column.",
        },
        "import.ref_too_long": {
            "zh": "工单号最多 {limit} 个字符。",
            "en": "A ticket number has at most {limit} characters.",
        },
        "import.not_unique": {
            "zh": "字段 {field} 的值已被另一工单使用,而此字段要求唯一。",
            "en": "Another ticket already has this value of {field}, which must be unique.",
        },
        # --- progress and events
        "import.done": {
            "zh": "导入完成:共 {total} 行,新建 {created} 个工单,跳过已导入的 {skipped} 个,{errors} 行有错误。",
            "en": "Import done: {total} rows, {created} tickets created, {skipped} already imported, "
            "{errors} rows with errors.",
        },
        "import.checked": {
            "zh": "检查完成:共 {total} 行,{valid} 行可导入,{errors} 行有错误,{existing} 行已导入过(将跳过)。",
            "en": "Checked: {total} rows, {valid} can be imported, {errors} have errors, {existing} were "
            "imported before (they will be skipped).",
        },
        "import.check_queued": {
            "zh": "文件已上传,正在排队检查……",
            "en": "The file is uploaded and waiting to be checked…",
        },
        "import.checking": {
            "zh": "正在检查……已检查 {done} / {total} 行。",
            "en": "Checking… {done} / {total} rows checked.",
        },
        "import.check_failed": {
            "zh": "检查未能完成,文件中的工单都未导入。原因见下。",
            "en": "The check could not finish; nothing in the file was imported. The reason is below.",
        },
        "event.imported": {"zh": "从表格导入", "en": "Imported from a sheet"},
        # --- special columns (the page's mapping choices and the export's headers)
        "import.target._number": {"zh": "工单号", "en": "Ticket number"},
        "import.target._created_at": {"zh": "创建时间", "en": "Created at"},
        "import.target._closed_at": {"zh": "关闭时间", "en": "Closed at"},
        "import.target._stage": {"zh": "阶段", "en": "Stage"},
        "import.target._status": {"zh": "状态", "en": "Status"},
        "import.target._created_by": {"zh": "提交人", "en": "Submitted by"},
        "import.target._assignee": {"zh": "当前处理人", "en": "Current assignee"},
        "import.status.open": {"zh": "处理中", "en": "open"},
        "import.status.closed": {"zh": "已关闭", "en": "closed"},
        "import.status.cancelled": {"zh": "已取消", "en": "cancelled"},
    }
)
