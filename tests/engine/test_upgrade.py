"""Moving running tickets to a new version of their app; renames carry data over."""

from __future__ import annotations

from copy import deepcopy

import pytest

from engine.errors import ActionError, FormError
from tests.support import complaint_form


def version_2(runtime, *, rename=True, new_required=False, drop_node=False):
    _, definition = runtime.definition("complaint")
    v2 = deepcopy(definition)
    fields = v2["ticket_types"]["complaint"]["form"]["sections"][0]["fields"]
    if rename:
        customer = next(f for f in fields if f["key"] == "customer")
        customer.update(key="customer_name", renamed_from="customer")
    if new_required:
        fields.append(
            {"key": "region", "type": "text", "required": True, "label": {"zh": "区域", "en": "Region"}}
        )
    if drop_node:
        flow = v2["ticket_types"]["complaint"]["flow"]
        flow["nodes"] = [n for n in flow["nodes"] if n["id"] != "triage"]
        flow["edges"] = [
            e for e in flow["edges"] if "triage" not in (e if isinstance(e, list) else [e["from"], e["to"]])
        ]
        flow["edges"].append(["start", "fix"])
        returns = {k: [t for t in v if t != "triage"] for k, v in flow.get("returns", {}).items()}
        flow["returns"] = {k: v for k, v in returns.items() if v}
    assert runtime.publish(v2).version == 2
    return v2


@pytest.fixture
def old_ticket(runtime, complaint_app):
    return runtime.submit("complaint", "complaint", complaint_form(runtime.definition("complaint")[1]))


def test_a_rename_carries_the_value_to_the_new_version(runtime, old_ticket):
    version_2(runtime)
    moved = runtime.upgrade(old_ticket.id)
    assert moved.app_version == 2
    assert moved.data["customer_name"] == old_ticket.data["customer"] and "customer" not in moved.data
    last = runtime.events(old_ticket.id)[-1]
    assert last["type"] == "version_changed"
    assert last["payload"]["renamed"] == {"customer": "customer_name"}
    (task,) = runtime.tasks(old_ticket.id)
    assert runtime.act(task["id"], "dispatch").stage == "fix"  # the flow goes on in version 2


def test_what_the_new_version_requires_must_be_given(runtime, old_ticket):
    version_2(runtime, new_required=True)
    with pytest.raises(FormError) as caught:
        runtime.upgrade(old_ticket.id)
    assert [p.path for p in caught.value.problems] == ["region"]
    assert runtime.ticket(old_ticket.id).app_version == 1
    moved = runtime.upgrade(old_ticket.id, data={"region": "华东"})
    assert moved.data["region"] == "华东"


def test_a_ticket_cannot_move_to_a_version_without_its_stage(runtime, old_ticket):
    version_2(runtime, rename=False, drop_node=True)
    with pytest.raises(ActionError) as caught:
        runtime.upgrade(old_ticket.id)
    assert "triage" in caught.value.message("en")
    assert runtime.ticket(old_ticket.id).app_version == 1


def test_tickets_not_moved_keep_running_on_their_version(runtime, old_ticket):
    version_2(runtime)
    assert runtime.ticket(old_ticket.id).data["customer"] == old_ticket.data["customer"]
    data = complaint_form(runtime.definition("complaint")[1], customer_name="新客户")
    data.pop("customer")
    fresh = runtime.submit("complaint", "complaint", data)
    assert fresh.app_version == 2 and fresh.data["customer_name"] == "新客户"
