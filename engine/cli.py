"""The `gongdan` command. Configuration comes from the environment (see engine/config.py)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from engine.config import load_settings
from engine.errors import DefinitionError, GongdanError, InputError
from engine.i18n import t, text_of

if TYPE_CHECKING:
    from engine.runtime import PublishResult

EXIT_BAD_INPUT = 2


def _platform():
    from engine.bootstrap import open_platform
    from engine.store.migrate import pending

    settings = load_settings()
    if pending(settings.database_url):
        raise GongdanError("cli.not_migrated", url=_safe_url(settings.database_url))
    return open_platform(settings)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into their message (exit 2) instead of a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GongdanError as exc:
            click.echo(exc.render(), err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lang", type=click.Choice(["zh", "en"]), help="Language of messages (default: GONGDAN_LANG or zh)."
)
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """Gongdan 工单 — a metadata-driven no-code ticket platform.

    Configuration by environment variables: GONGDAN_HOME (data folder, default ./var),
    DATABASE_URL (default SQLite in GONGDAN_HOME), REDIS_URL (job queue), GONGDAN_LANG (zh|en).
    """
    if lang:
        before = os.environ.get("GONGDAN_LANG")
        os.environ["GONGDAN_LANG"] = lang
        ctx.call_on_close(lambda: _restore_lang(before))


def _restore_lang(before: str | None) -> None:
    """--lang holds for this command only (the CLI may run inside a longer-lived process)."""
    if before is None:
        os.environ.pop("GONGDAN_LANG", None)
    else:
        os.environ["GONGDAN_LANG"] = before


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from engine.store import migrate as run

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    run(settings.database_url)
    click.echo(t("cli.database_ready", None, url=_safe_url(settings.database_url)))


@main.command()
@click.option(
    "--admin", "admin_name", default="admin", show_default=True, help="Username of the first admin."
)
@click.pass_context
def init(ctx: click.Context, admin_name: str) -> None:
    """Set up the data folder and database and create the first admin (prints its password once)."""
    from engine.people import ensure_admin

    ctx.invoke(migrate)
    platform = _platform()
    password = ensure_admin(platform.db, admin_name)
    if password:
        click.echo(t("cli.admin_created", None, user=admin_name, password=password))
    else:
        click.echo(t("cli.admin_exists", None, user=admin_name))
    platform.close()


def _load_all(files: tuple[Path, ...]) -> list[Any]:
    """Load every file; report every problem of every file before anything is written."""
    from engine.definitions.loader import load_definition

    loaded, failed = [], []
    for path in files:
        try:
            loaded.append(load_definition(path))
        except DefinitionError as exc:
            failed.append(exc)
    if failed:
        for exc in failed:
            click.echo(exc.render(), err=True)
        sys.exit(EXIT_BAD_INPUT)
    return loaded


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def validate(files: tuple[Path, ...]) -> None:
    """Check app definition files; exit 2 listing every problem with its path. Writes nothing."""
    for path, _ in zip(files, _load_all(files), strict=True):
        click.echo(t("cli.valid", None, file=path))


@main.command(name="test")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def test_apps(files: tuple[Path, ...], as_json: bool) -> None:
    """Run the apps' scenario tests on a throw-away database; exit 1 when any fails (see
    docs/app-format.md). The files given are loaded together (one app's rules may create tickets in
    another); an app such a rule names is also looked for in the same folder. Writes nothing."""
    from engine.scenarios import report_lines, run_definitions

    reports = run_definitions(_load_all(files))
    if as_json:
        body = {"passed": all(r.passed for r in reports), "apps": [r.as_dict() for r in reports]}
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for line in report_lines(reports):
            click.echo(line)
    if not all(r.passed for r in reports):
        sys.exit(1)


@main.command(name="import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--dry-run", is_flag=True, help="Check and show the diff, write nothing.")
@click.option(
    "--into",
    metavar="APP_KEY:TICKET_TYPE",
    help="FILE is BPMN 2.0: replace this ticket type's flow with it (see docs/bpmn.md).",
)
@click.option("--process", "process_id", metavar="ID", help="With --into: the BPMN process (or participant).")
@friendly
def import_(files: tuple[Path, ...], dry_run: bool, into: str | None, process_id: str | None) -> None:
    """Publish app definitions as new versions (each all or nothing); prints the diff."""
    if into is not None:
        _import_bpmn(files, into, process_id, dry_run)
        return
    bpmn_file = next((path for path in files if path.suffix.lower() == ".bpmn"), None)
    if bpmn_file is not None:
        import engine.flows.bpmn_messages  # noqa: F401  (its words)

        raise InputError("bpmn.needs_into", file=str(bpmn_file))
    loaded = _load_all(files)
    platform = _platform()
    for item in loaded:
        _echo_published(platform.runtime.publish(item, dry_run=dry_run), dry_run)
    platform.close()


def _echo_published(result: PublishResult, dry_run: bool) -> None:
    if result.previous is not None and result.changes:
        click.echo(t("cli.diff_header", None, version=result.previous))
        for change in result.changes:
            click.echo("  " + change.render())
    if result.unchanged:
        click.echo(t("cli.unchanged", None, app=result.app, version=result.version))
    elif dry_run:
        click.echo(t("cli.dry_run", None, app=result.app, version=result.version))
    else:
        click.echo(t("cli.imported", None, app=result.app, version=result.version))


def _import_bpmn(files: tuple[Path, ...], into: str, process_id: str | None, dry_run: bool) -> None:
    """Convert the BPMN file, put its flow into the running definition, check it all, publish."""
    from engine.definitions.loader import load_definition
    from engine.flows.bpmn import convert_file, parse_target, require_importable, with_flow

    if len(files) != 1:
        raise InputError("bpmn.into_one_file", count=len(files))
    app_key, ticket_type = parse_target(into)
    conversion = convert_file(files[0], process_id)
    require_importable(conversion, str(files[0]))
    platform = _platform()
    try:
        _, running = platform.runtime.definition(app_key)
        data = with_flow(running, app_key, ticket_type, conversion.flow)
        loaded = load_definition(data, name=f"{app_key} + {files[0].name}")
        _echo_published(platform.runtime.publish(loaded, dry_run=dry_run), dry_run)
    finally:
        platform.close()


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--process", "process_id", metavar="ID", help="The BPMN process (or participant) to convert.")
@friendly
def bpmn(file: Path, process_id: str | None) -> None:
    """Print the Gongdan flow of a BPMN 2.0 file as YAML, and every element it cannot keep (exit 2).

    Touches no database. To publish it: gongdan import FILE --into APP_KEY:TICKET_TYPE.
    """
    from engine.flows.bpmn import convert_file, hints, require_importable

    conversion = convert_file(file, process_id)
    if conversion.flow["nodes"]:
        for line in hints(conversion):
            click.echo(f"# {line}")
        click.echo(dump_definition(conversion.flow, "yaml"), nl=False)
    require_importable(conversion, str(file))


def dump_definition(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


@main.command()
@click.argument("app")
@click.option("--version", "version", type=int, help="Version to export (default: the running one).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout)."
)
@friendly
def export(app: str, version: int | None, fmt: str, output: Path | None) -> None:
    """Write an app definition as YAML or JSON; importing it again gives back the same definition."""
    platform = _platform()
    number, data = platform.runtime.definition(app, version)
    text = (
        f"# {app} version {number}\n" + dump_definition(data, fmt)
        if fmt == "yaml"
        else dump_definition(data, fmt)
    )
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    platform.close()


@main.command()
@click.argument("app")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "from_version", type=int, help="Older version (default: the running one).")
@click.option("--to", "to_version", type=int, help="Newer version (instead of FILE).")
@friendly
def diff(app: str, file: Path | None, from_version: int | None, to_version: int | None) -> None:
    """Show what changed between two versions of APP, or between the running version and FILE."""
    from engine.definitions.diff import diff as compute

    platform = _platform()
    _, old = platform.runtime.definition(app, from_version)
    if file is not None:
        new = _load_all((file,))[0].data
    else:
        _, new = platform.runtime.definition(app, to_version)
    changes = compute(old, new)
    for change in changes:
        click.echo(change.render())
    if not changes:
        click.echo(t("cli.no_changes", None))
    platform.close()


@main.command()
@click.argument("app", required=False)
@friendly
def versions(app: str | None) -> None:
    """List apps, or the published versions of APP."""
    platform = _platform()
    if app is None:
        for row in platform.runtime.apps():
            name = text_of(row["name"])
            click.echo(
                t("cli.app_line", None, key=f"{row['key']:<20}", version=row["current_version"], name=name)
            )
    else:
        for row in platform.runtime.versions(app):
            code = "cli.version_line.running" if row["running"] else "cli.version_line"
            click.echo(
                t(code, None, version=row["version"], at=f"{row['published_at']:%Y-%m-%d %H:%M}",
                  checksum=row["checksum"][:12])
            )  # fmt: skip
    platform.close()


@main.group()
def user() -> None:
    """Manage users."""


@user.command("password")
@click.argument("username")
@friendly
def user_password(username: str) -> None:
    """Give USERNAME a new random password and print it."""
    from engine.people import new_password, set_password

    platform = _platform()
    password = new_password()
    set_password(platform.db, username, password)
    click.echo(t("cli.password_set", None, user=username, password=password))
    platform.close()


@main.group()
def reports() -> None:
    """Report engine: ticket metrics."""


@reports.command("rebuild")
@click.argument("app", required=False)
@friendly
def reports_rebuild(app: str | None) -> None:
    """Recompute every ticket's metrics (of APP, or of all apps) from its events."""
    from engine.reports.keeping import rebuild

    platform = _platform()
    if app is not None:
        platform.runtime.versions(app)  # an unknown app is an error, not zero tickets
    count = rebuild(platform.db, app)
    click.echo(t("report.rebuilt", None, count=count))
    platform.close()


@main.group()
def ticket() -> None:
    """Look at one ticket."""


@ticket.command("show")
@click.argument("ref")
@click.option(
    "--at", "at", default=None, help="Show it as it was at this moment (ISO 8601, e.g. 2026-11-20T10:00)."
)
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="Time zone of --at when it has none.")
@friendly
def ticket_show(ref: str, at: str | None, tz: str) -> None:
    """Print ticket REF (its id or its number) as JSON: now, or as it was --at a moment."""
    import dataclasses
    import datetime as dt
    import json
    from zoneinfo import ZoneInfo

    from sqlalchemy import or_, select

    from engine.errors import InputError, NotFoundError
    from engine.reports.asof import ticket_as_of
    from engine.store.models import Record

    platform = _platform()
    with platform.db.read() as conn:
        rid = conn.execute(
            select(Record.id).where(
                or_(Record.number == ref, Record.id == (int(ref) if ref.isdigit() else -1))
            )
        ).scalar()
    if rid is None:
        raise NotFoundError("not_found", what="ticket", ident=ref)
    if at is None:
        out = dataclasses.asdict(platform.runtime.ticket(rid))
    else:
        try:
            moment = dt.datetime.fromisoformat(at)
        except ValueError:
            raise InputError("cli.bad_moment", value=at) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(tz))
        out = dataclasses.asdict(ticket_as_of(platform.db, rid, moment))
    click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    platform.close()


@main.group()
def rules() -> None:
    """Rule engine: try rules before publishing."""


def _candidate(file: Path | None) -> Any:
    from engine.definitions.loader import load_definition

    return load_definition(file) if file is not None else None


@rules.command("test")
@click.argument("app")
@click.argument("ticket_type")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A changed definition whose rules to try (default: the running version).",
)
@click.option(
    "--ticket", "ticket_id", type=int, help="Try on this ticket (changed by --data) instead of a new one."
)
@click.option("--data", "data", default="{}", help="Field values as JSON.")
@friendly
def rules_test(app: str, ticket_type: str, file: Path | None, ticket_id: int | None, data: str) -> None:
    """Show what the rules would do to a new ticket (or --ticket N), changing nothing."""
    import json

    try:
        values = json.loads(data)
    except ValueError as exc:
        raise GongdanError("cli.bad_json", detail=str(exc)) from None
    platform = _platform()
    shown = platform.runtime.rules_dry_run(
        app, ticket_type, values, record_id=ticket_id, candidate=_candidate(file)
    )
    for run in shown["rule_runs"]:
        code = "cli.rule_matched" if run["matched"] else "cli.rule_not_matched"
        actions = ", ".join(run["actions"]) or t("cli.no_actions", None)
        line = t(code, None, rule=run["rule"], trigger=run["trigger"], actions=actions)
        click.echo(f"{line} {run['error']}" if run["error"] else line)
    for item in shown["outbox"]:
        click.echo(t("cli.would_send", None, channel=item["channel"]))
    click.echo(json.dumps(shown["ticket"], ensure_ascii=False, default=str))
    platform.close()


@rules.command("replay")
@click.argument("app")
@click.argument("ticket_type")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A changed definition whose rules to replay (default: the running version).",
)
@click.option("--days", default=30, show_default=True, help="Tickets created in the last N days.")
@friendly
def rules_replay(app: str, ticket_type: str, file: Path | None, days: int) -> None:
    """Report per rule what it would have done over past tickets; nothing is written or sent."""
    import datetime as dt

    platform = _platform()
    until = platform.runtime.clock()
    report = platform.runtime.rules_replay(
        app, ticket_type, candidate=_candidate(file), since=until - dt.timedelta(days=days), until=until
    )
    for row in report:
        actions = ", ".join(f"{k}×{n}" for k, n in row["actions"].items()) or "-"
        examples = ", ".join(row["examples"]) or "-"
        click.echo(t("cli.replay_line", None, **row, actions_text=actions, examples_text=examples))
    platform.close()


@main.group()
def outbox() -> None:
    """Outbox: dead letters (messages that could not be delivered) and re-sending them."""


@outbox.command("dead")
@click.option("--limit", default=50, show_default=True, help="How many to list.")
@friendly
def outbox_dead(limit: int) -> None:
    """List dead letters, newest first, with why they failed."""
    from engine.jobs.outbox import dead_rows

    platform = _platform()
    rows = dead_rows(platform.db, limit)
    for row in rows:
        click.echo(t("cli.dead_line", None, **row))
    if not rows:
        click.echo(t("cli.no_dead_letters", None))
    platform.close()


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
@friendly
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Give dead letters a fresh set of attempts; the worker sends them on its next tick."""
    from engine.jobs.outbox import retry_dead

    platform = _platform()
    for outbox_id in ids:
        done = retry_dead(platform.db, outbox_id)
        click.echo(t("cli.retried" if done else "cli.not_dead", None, id=outbox_id))
    platform.close()


@main.group()
def org() -> None:
    """Organisation sync from DingTalk, WeCom, Feishu or LDAP (docs/sso.md)."""


@org.command("sync")
@click.argument("source")
@click.option(
    "--confirm", is_flag=True, help="Apply even if more than 20 % of the source's users would be deactivated."
)
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
@friendly
def org_sync(source: str, confirm: bool, dry_run: bool) -> None:
    """Pull departments and people from SOURCE (dingtalk, wecom, feishu, ldap), all or nothing."""
    from engine.org_sync import report_lines, sync

    platform = _platform()
    try:
        result = sync(platform.settings, platform.db, source.lower(), confirm=confirm, dry_run=dry_run)
    finally:
        platform.close()
    for line in report_lines(result):
        click.echo(line)


@main.command()
@click.option("--tickets", default=200, show_default=True, help="How many demo tickets to create.")
@click.option("--seed", default=7, show_default=True, help="Random seed (the same seed gives the same data).")
@click.option(
    "--people-only", is_flag=True, help="Only the organisation and its logins (idempotent), no tickets."
)
@click.option(
    "--bulk/--walk",
    default=None,
    help="Bulk: walk a few tickets through their flows and clone the rest (fast, millions); walk: every "
    "ticket through the Runtime. Default: bulk above 1,000 tickets.",
)
@friendly
def demo(tickets: int, seed: int, people_only: bool, bulk: bool | None) -> None:
    """Load a demo organisation and tickets into the shipped apps."""
    from engine.demo import load_demo, load_people

    platform = _platform()
    if people_only:
        load_people(platform.db)
        click.echo(t("cli.demo_people", None))
        for line in _people_lines(platform.db):
            click.echo(line)
    else:
        from functools import partial

        progress = partial(click.progressbar, file=sys.stderr)  # stdout stays for the summary
        load_demo(platform, tickets=tickets, seed=seed, echo=click.echo, progress=progress, bulk=bulk)
    platform.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also run `gongdan worker` (outbox, SLA timers, cron rules) as a child process.",
)
@friendly
def serve(host: str, port: int, workers: int, with_worker: bool) -> None:
    """Serve the web application with gunicorn."""
    import subprocess
    import sys

    from server.wsgi import serve as run

    _platform().close()  # refuse to serve a database that is not set up
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(t("cli.serving", None, url=f"http://{shown}:{port}"))
    child = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"]) if with_worker else None
    try:
        run(host=host, port=port, workers=workers)
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=30)


@main.command()
@click.option("--threads", default=2, show_default=True, type=int)
@friendly
def worker(threads: int) -> None:
    """Run the job consumer: outbox delivery and the minute tick (SLA timers, cron rules, sweep)."""
    import engine.org_sync  # noqa: F401  (its scheduled sync joins the minute tick)
    from engine.jobs.queue import run_worker

    _platform().close()  # refuse to work on a database that is not set up
    run_worker(load_settings(), workers=threads)


@main.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@friendly
def backup(dest: Path) -> None:
    """Copy the database and the files folder into the new folder DEST (with a manifest)."""
    from engine.backup import backup as run

    manifest = run(load_settings(), dest, echo=lambda line: click.echo(line, err=True))
    database = manifest["database"]
    click.echo(
        t(
            "cli.backup_written",
            None,
            dest=dest,
            kind=database["kind"],
            revision=database["revision"],
            tickets=database["tickets"],
            files=manifest["files"]["count"],
        )
    )


@main.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a target database or files folder that holds data.")
@friendly
def restore(src: Path, force: bool) -> None:
    """Restore a backup made by `gongdan backup` into the configured database and files folder."""
    from engine.backup import restore as run

    manifest = run(load_settings(), src, force=force, echo=lambda line: click.echo(line, err=True))
    click.echo(t("cli.restored", None, src=src, made=manifest["created_at"]))


@main.group()
def tickets() -> None:
    """Bring existing tickets in from XLSX/CSV, and export them (docs/imports.md)."""


@tickets.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--app", "app_key", required=True, help="The app the tickets belong to.")
@click.option("--type", "ticket_type", required=True, help="The ticket type.")
@click.option("--mapping", "mapping_name", metavar="NAME", help="A saved column mapping (default: headers).")
@click.option("--dry-run", is_flag=True, help="Check every row and list the problems; import nothing.")
@click.option("--job", "job_id", type=int, help="Go on with this earlier job of the same file.")
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="Time zone of times without one.")
@friendly
def tickets_import(
    file: Path,
    app_key: str,
    ticket_type: str,
    mapping_name: str | None,
    dry_run: bool,
    job_id: int | None,
    tz: str,
) -> None:
    """Import the rows of FILE as tickets: valid rows are imported, each row's problems listed.
    Running it again creates nothing twice."""
    from engine.ticket_import import Importer, job_summary, job_view, keep_upload, saved_mapping

    platform = _platform()
    importer = Importer(platform.runtime, app_key, ticket_type, tz=tz)
    mapping = saved_mapping(platform.db, importer.app_id, ticket_type, mapping_name) if mapping_name else None
    with file.open("rb") as stream:
        source, file_id = keep_upload(platform.settings.home, stream, file.name, 1 << 40)
    job = job_view(platform.db, job_id) if job_id else importer.check(source, mapping, None, file_id)
    for e in job["errors"][:50]:
        click.echo(
            t("cli.import_row", None, row=e["row"], column=e["column"], message=e["message"]), err=True
        )
    if len(job["errors"]) > 50:
        click.echo(t("cli.import_more_rows", None, count=job["error_rows"]), err=True)
    if not dry_run:
        job = importer.run(job["id"], source)
    click.echo(t("cli.import_job", None, id=job["id"], summary=job_summary(job)))


@tickets.command("export")
@click.option("--app", "app_key", required=True, help="The app.")
@click.option("--type", "ticket_type", required=True, help="The ticket type.")
@click.option("--mapping", "mapping_name", metavar="NAME", help="Columns of a saved mapping.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The .xlsx file."
)
@click.option("--lang", "lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@friendly
def tickets_export(app_key: str, ticket_type: str, mapping_name: str | None, output: Path, lang: str) -> None:
    """Write every ticket of a type to an .xlsx the import reads back."""
    from engine.ticket_export import export_xlsx
    from engine.ticket_import import Importer, saved_mapping

    platform = _platform()
    mapping = None
    if mapping_name:
        app_id = Importer(platform.runtime, app_key, ticket_type).app_id
        mapping = saved_mapping(platform.db, app_id, ticket_type, mapping_name)
    count = export_xlsx(platform.runtime, app_key, ticket_type, output, mapping, lang=lang)
    click.echo(t("cli.tickets_written", None, count=count, output=output))


def _people_lines(db: Any) -> list[str]:
    """One line per demo login, in the language of this run: username, password, name, and the
    apps and roles by their names (a customer has none)."""
    from sqlalchemy import select

    from engine.demo import USERS
    from engine.store.models import App, Role

    with db.read() as conn:
        rows = conn.execute(
            select(App.key, App.name, Role.key, Role.name).join(App, App.id == Role.app_id)
        ).all()
    apps = {key: name for key, name, _, _ in rows}
    roles = {(app, key): name for app, _, key, name in rows}
    lines = []
    for username, name, _dept, memberships in USERS:
        does = t("cli.app_sep", None).join(
            t(
                "cli.app_roles",
                None,
                app=text_of(apps.get(app)) or app,
                roles=t("cli.list_sep", None).join(text_of(roles.get((app, k))) or k for k in keys),
            )
            for app, keys in memberships.items()
            if app in apps  # the demo gives roles only in the apps that are there
        )
        lines.append(
            t("cli.demo_login", None, user=f"{username:<6}", name=name, does=does or t("cli.customer", None))
        )
    return lines


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
