"""Scenario tests of an app (``ticket_types.<type>.tests``), run by `gongdan test` and the designer.

Each scenario runs on a throw-away SQLite database (a copy of a migrated template made once per
process) with a clock the scenario moves: ``given`` sets the scene (submitter, start moment, people
and their roles, the answers HTTP ``call`` actions get), ``submit`` creates the ticket, each step
lets (business) time pass — firing the SLA escalations, reminders, timers and scheduled rules due
meanwhile at their moment — acts, and checks ``then``. Nothing is mocked: the real Runtime, flow
and rule engines run; only the outside world is stood in for — a ``call`` row gets the answer the
scenario gives (delivered through the call layer's ``AFTER_DELIVERY`` hook, as the worker would),
and notifications stay queued in the outbox where ``then.queued`` looks for them.

Every mismatch is a :class:`~engine.errors.Problem` whose path points into the definition, e.g.
``ticket_types.complaint.tests[0].steps[2].then.stage``, with what was expected and what was found.

This module makes the databases and the report; engine/scenario_run.py runs one scenario and
engine/scenario_checks.py holds the ``then`` checks (a registry, one function per key).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

import engine.scenario_messages  # noqa: F401  (the scenario.* messages)
from engine.definitions.loader import Loaded, load_definition
from engine.definitions.model import thaw
from engine.errors import DefinitionError, Problem
from engine.i18n import current_lang, t
from engine.scenario_checks import THEN_CHECKS
from engine.scenario_run import ACTS, ScenarioClock, ScenarioRun
from engine.store import Database, migrate
from engine.store.models import App, AppVersion


# ----------------------------------------------------------------------------- the report
@dataclass
class ScenarioResult:
    """One scenario's outcome: its problems (none: passed) and how long it took."""

    ticket_type: str
    index: int
    name: str
    problems: list[Problem] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def path(self) -> str:
        return f"ticket_types.{self.ticket_type}.tests[{self.index}]"

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        return {
            "ticket_type": self.ticket_type,
            "index": self.index,
            "name": self.name,
            "path": self.path,
            "passed": self.passed,
            "duration_ms": round(self.duration_ms, 1),
            "problems": [p.as_dict(lang) for p in self.problems],
        }


@dataclass
class ScenarioReport:
    """The scenarios of one app: per scenario passed/failed; ``problems`` when none could run."""

    app: str
    results: list[ScenarioResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duration_ms: float = 0.0
    lang: str | None = None
    source: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems and all(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)

    def as_dict(self, lang: str | None = None) -> dict[str, Any]:
        lang = lang or self.lang
        return {
            "app": self.app,
            "passed": self.passed,
            "total": len(self.results),
            "failed": self.failed,
            "duration_ms": round(self.duration_ms, 1),
            "problems": [p.as_dict(lang) for p in self.problems],
            "scenarios": [r.as_dict(lang) for r in self.results],
        }

    def render(self, lang: str | None = None) -> list[str]:
        """The report as lines a person reads in a terminal."""
        lang = lang or self.lang
        lines = [t("scenario.app_line", lang, app=self.app, file=self.source or self.app)]
        lines += [f"  - {p.render(lang)}" for p in self.problems]
        if not self.results and not self.problems:
            lines.append("  " + t("scenario.none", lang, app=self.app))
        for result in self.results:
            code = "scenario.passed" if result.passed else "scenario.failed"
            name = f"{result.ticket_type}: {result.name}"
            lines.append("  " + t(code, lang, name=name, ms=round(result.duration_ms)))
            lines += [f"      {p.render(lang)}" for p in result.problems]
        return lines


# ----------------------------------------------------------------------------- throw-away databases
_template: Path | None = None
_template_lock = threading.Lock()


def _template_file() -> Path:
    """A migrated empty SQLite file, made once per process (migrating takes far longer than copying)."""
    global _template
    with _template_lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="gongdan-scenarios-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "template.db"
            migrate(f"sqlite:///{path}")
            _template = path
        return _template


@contextmanager
def throwaway_database() -> Iterator[Database]:
    """A fresh migrated database that is deleted afterwards; the real one is never touched."""
    with tempfile.TemporaryDirectory(prefix="gongdan-scenario-") as folder:
        path = Path(folder) / "scenario.db"
        shutil.copyfile(_template_file(), path)
        db = Database(f"sqlite:///{path}")
        try:
            yield db
        finally:
            db.dispose()


# ----------------------------------------------------------------------------- running
def run_app_scenarios(
    definition: Any,
    lang: str | None = None,
    companions: Iterable[Any] = (),
    db: Database | None = None,
) -> ScenarioReport:
    """Run every scenario of an app definition (data, text, a path or a Loaded one).

    ``companions`` are other apps' definitions the scenarios need (this app's rules create tickets
    in them); with ``db`` (the real database, only read) the running versions of the apps still
    missing are taken from it. The designer calls this; ``as_dict()`` of the result is its JSON.
    """
    started = time.perf_counter()
    try:
        loaded = definition if isinstance(definition, Loaded) else load_definition(definition)
    except DefinitionError as exc:
        key = definition.get("app", "?") if isinstance(definition, Mapping) else str(definition)
        return ScenarioReport(str(key), problems=exc.problems, lang=lang, source=str(key))
    report = ScenarioReport(loaded.app.key, lang=lang, source=loaded.source.name)
    try:
        others = [c if isinstance(c, Loaded) else load_definition(c) for c in companions]
    except DefinitionError as exc:  # a companion that does not load: say so, run nothing
        report.problems = exc.problems
        return report
    others = [o for o in others if o.app.key != loaded.app.key]
    if db is not None:
        have = {loaded.app.key, *(o.app.key for o in others)}
        others += running_definitions(db, referenced_apps(loaded.data) - have)
    for tkey, tdef in loaded.app.ticket_types.items():
        for index, test in enumerate(tdef.tests):
            report.results.append(_run_one(loaded, others, tkey, index, thaw(test)))
    report.duration_ms = (time.perf_counter() - started) * 1000
    return report


def run_files(paths: Sequence[Path], lang: str | None = None) -> list[ScenarioReport]:
    """`gongdan test`: each file's scenarios (see :func:`run_definitions`)."""
    return run_definitions([load_definition(p) for p in paths], lang)


def run_definitions(loaded: Sequence[Loaded], lang: str | None = None) -> list[ScenarioReport]:
    """Each definition's scenarios, the other definitions (and sibling files of apps their rules
    create tickets in, found by app key in the same folder) loaded beside it."""
    reports = []
    for one in loaded:
        others = [o for o in loaded if o is not one]
        have = {one.app.key, *(o.app.key for o in others)}
        for key in sorted(referenced_apps(one.data) - have):
            found = sibling_definition(Path(one.source.name).parent, key)
            if found is not None:
                others.append(found)
        reports.append(run_app_scenarios(one, lang, others))
    return reports


def referenced_apps(data: Any) -> set[str]:
    """The apps a definition's actions create tickets in (``create: {app: …}``), wherever they are."""
    found: set[str] = set()
    if isinstance(data, Mapping):
        create = data.get("create")
        if isinstance(create, Mapping) and isinstance(create.get("app"), str):
            found.add(create["app"])
        for value in data.values():
            found |= referenced_apps(value)
    elif isinstance(data, list):
        for value in data:
            found |= referenced_apps(value)
    return found


def sibling_definition(folder: Path, app_key: str) -> Loaded | None:
    """The definition of ``app_key`` in ``folder``: ``<key>.yaml``/``.yml``/``.json`` first, then any
    file there whose ``app`` is the key."""
    named = [folder / f"{app_key}{ext}" for ext in (".yaml", ".yml", ".json")]
    rest = sorted(p for ext in ("*.yaml", "*.yml", "*.json") for p in folder.glob(ext) if p not in named)
    for path in [p for p in named if p.is_file()] + rest:
        try:
            candidate = load_definition(path)
        except (DefinitionError, OSError):
            continue
        if candidate.app.key == app_key:
            return candidate
    return None


def running_definitions(db: Database, keys: Iterable[str]) -> list[Loaded]:
    """The running versions of the apps ``keys`` in ``db`` (read only; unknown keys are left out)."""
    keys = sorted(set(keys))
    if not keys:
        return []
    with db.read() as conn:
        rows = conn.execute(
            select(AppVersion.definition)
            .join(App, (App.id == AppVersion.app_id) & (App.current_version == AppVersion.version))
            .where(App.key.in_(keys))
        ).scalars()
        return [load_definition(data) for data in rows]


def _run_one(
    loaded: Loaded, others: list[Loaded], tkey: str, index: int, test: dict[str, Any]
) -> ScenarioResult:
    result = ScenarioResult(tkey, index, str(test.get("name", "")))
    started = time.perf_counter()
    try:
        with throwaway_database() as db:
            ScenarioRun(db, loaded, others, tkey, test, result.path).run(result.problems)
    except Exception as exc:  # a bug must not stop the other scenarios; it is reported as one
        detail = f"{type(exc).__name__}: {exc}"
        result.problems.append(Problem(result.path, "scenario.crashed", {"detail": detail}))
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def report_lines(reports: Sequence[ScenarioReport], lang: str | None = None) -> list[str]:
    """Every report's lines and a summary line (what `gongdan test` prints)."""
    lang = current_lang(lang)
    lines = [line for report in reports for line in report.render(lang)]
    passed = sum(r.passed for report in reports for r in report.results)
    failed = sum(report.failed for report in reports)
    ms = round(sum(report.duration_ms for report in reports))
    lines.append(t("scenario.summary", lang, passed=passed, failed=failed, ms=ms))
    return lines


__all__ = [
    "ACTS",
    "THEN_CHECKS",
    "ScenarioClock",
    "ScenarioReport",
    "ScenarioResult",
    "referenced_apps",
    "report_lines",
    "run_app_scenarios",
    "run_definitions",
    "run_files",
    "running_definitions",
    "throwaway_database",
]
