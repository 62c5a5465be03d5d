"""Messages of running Gongdan (readiness, metrics access, backup and restore, file storage), zh and en."""

from engine.i18n import register

register(
    {
        # --- readiness (/readyz)
        "ops.ready.database": {
            "zh": "数据库无法连接({error})。请检查 DATABASE_URL 以及数据库服务是否在运行。",
            "en": "The database cannot be reached ({error}). Check DATABASE_URL and that the database server runs.",
        },
        "ops.ready.migrations": {
            "zh": "数据库结构版本为 {current}，应为 {head}。请运行 `gongdan migrate`。",
            "en": "The database schema is at {current}, the code expects {head}. Run `gongdan migrate`.",
        },
        "ops.ready.queue": {
            "zh": "任务队列无法连接({error})。请检查 REDIS_URL 以及 Redis 是否在运行。",
            "en": "The job queue cannot be reached ({error}). Check REDIS_URL and that Redis runs.",
        },
        "ops.metrics_forbidden": {
            "zh": "/metrics 仅对本机、管理员或持有 GONGDAN_METRICS_TOKEN 的抓取方开放。",
            "en": "/metrics is open to this machine, admins, or a scraper sending GONGDAN_METRICS_TOKEN as bearer.",
        },
        # --- backup / restore
        "backup.dest_not_empty": {
            "zh": "备份目标 {path} 已存在且不为空。请换一个新目录。",
            "en": "The backup destination {path} exists and is not empty. Choose a new folder.",
        },
        "backup.no_pg_dump": {
            "zh": "找不到 {tool}。请安装 PostgreSQL 客户端工具(如 apt install postgresql-client)或把它加入 PATH。",
            "en": "{tool} was not found. Install the PostgreSQL client tools (e.g. apt install postgresql-client) "
            "or put them on PATH.",
        },
        "backup.tool_failed": {
            "zh": "{tool} 失败(退出码 {code})：{error}",
            "en": "{tool} failed (exit code {code}): {error}",
        },
        "backup.no_manifest": {
            "zh": "{path} 不是 Gongdan 备份：缺少 manifest.json。",
            "en": "{path} is not a Gongdan backup: manifest.json is missing.",
        },
        "backup.bad_checksum": {
            "zh": "备份文件 {file} 已损坏(校验和不符)。请使用另一份备份。",
            "en": "The backup file {file} is damaged (checksum mismatch). Use another backup.",
        },
        "backup.newer_schema": {
            "zh": "备份的数据库结构版本 {revision} 比当前程序({head})新。请先升级 Gongdan 再恢复。",
            "en": "The backup's schema {revision} is newer than this program's ({head}). Upgrade Gongdan first.",
        },
        "backup.unknown_revision": {
            "zh": "备份的数据库结构版本 {revision} 未知。请用生成该备份的 Gongdan 版本恢复。",
            "en": "The backup's schema {revision} is unknown here. Restore with the Gongdan version that made it.",
        },
        "backup.other_database": {
            "zh": "备份来自 {kind} 数据库，而目标是 {target}。请在同类数据库上恢复。",
            "en": "The backup comes from a {kind} database but the target is {target}. Restore into the same kind.",
        },
        "backup.target_not_empty": {
            "zh": "目标数据库已有数据({tickets} 个工单)。确认要覆盖请加 --force。",
            "en": "The target database holds data ({tickets} tickets). Add --force to overwrite it.",
        },
        "backup.database_copied": {"zh": "数据库({kind})→ {file}", "en": "database ({kind}) → {file}"},
        "backup.files_copied": {"zh": "文件：{count} 个 → {folder}/", "en": "files: {count} → {folder}/"},
        "backup.database_restored": {"zh": "数据库({kind})← {file}", "en": "database ({kind}) ← {file}"},
        "backup.restored_counts": {
            "zh": "已恢复：{tickets} 张工单，{files} 个文件",
            "en": "restored: {tickets} tickets, {files} files",
        },
        # --- file storage
        "files.bad_url": {
            "zh": "GONGDAN_FILES_URL 无效:{reason}。格式:s3://ACCESS_KEY:SECRET@bucket/prefix?endpoint=https://…&region=…",
            "en": "GONGDAN_FILES_URL is not valid: {reason}. Form: s3://ACCESS_KEY:SECRET@bucket/prefix?endpoint=https://…"
            "&region=…",
        },
        "files.store_failed": {
            "zh": "文件存储出错({error})。请检查 GONGDAN_FILES_URL 指向的存储服务。",
            "en": "The file store failed ({error}). Check the store GONGDAN_FILES_URL points to.",
        },
    }
)
