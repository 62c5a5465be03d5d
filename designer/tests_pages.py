"""The scenario-test editor: the "Tests" tab of the designer (designer/static/scenario_editor.js).

Business users write ``ticket_types.<type>.tests`` with forms instead of YAML and run them on the
saved draft (POST /api/v1/apps/{key}/draft/test, the same runner ``gongdan test`` uses). What the
forms offer besides the draft's own fields, nodes and edge actions — the acts every scenario may
use, the statuses a ticket can have — is read here from the scenario runner's registry and the
app-definition schema, so an act added to the runner shows up without a change here.
"""

from __future__ import annotations

from typing import Any

from designer import bp
from designer.editors import _defs, _page
from designer.pages import designer_page
from engine.flows.stepping import GENERIC_ACTIONS
from engine.jobs.channels import CHANNELS
from engine.scenario_run import ACTS

#: Task actions every flow has besides its edges' own: the generic ones and an approval's reject.
FLOW_ACTS = (*GENERIC_ACTIONS, "reject")


def tests_palette() -> dict[str, Any]:
    """Acts (the flow's generic actions and the scenario runner's ACTS registry), ticket statuses
    (the schema) and outbound channels (their registry) for the scenario forms; the draft itself
    supplies the fields, nodes, edge actions and roles."""
    then = _defs()["test"]["properties"]["then"]["properties"]
    return {
        "acts": list(dict.fromkeys([*FLOW_ACTS, *ACTS])),
        "statuses": list(then["status"]["enum"]),
        "channels": [c for c in CHANNELS if c != "admin"],
    }


@bp.get("/<key>/tests/<ticket_type>")
@designer_page
def tests(key: str, ticket_type: str) -> Any:
    return _page("designer/tests.html", key, "tests", ticket_type, tests_palette())
