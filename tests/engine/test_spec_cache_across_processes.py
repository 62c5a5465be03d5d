"""Compiled specs are cached per (app, version) in each process; a version published by one
process is what every other process uses for new tickets, with no restart and no message between
them: each command reads the app's running version from the database."""

from __future__ import annotations

from copy import deepcopy

import pytest

from engine.errors import FormError
from engine.runtime import Runtime
from engine.store import Database
from tests.conftest import APPS
from tests.support import complaint_form


def test_a_version_published_by_one_process_is_used_by_another_for_new_tickets(database_url):
    one, other = Database(database_url), Database(database_url)  # two processes: two pools
    try:
        publisher, server = Runtime(one), Runtime(other)
        publisher.publish(APPS / "complaint.yaml")
        definition = server.definition("complaint")[1]
        first = server.submit("complaint", "complaint", complaint_form(definition))
        assert first.app_version == 1  # the server has compiled and cached version 1 now

        v2 = deepcopy(definition)
        fields = v2["ticket_types"]["complaint"]["form"]["sections"][0]["fields"]
        fields.append(
            {"key": "region", "type": "text", "required": True, "label": {"zh": "区域", "en": "Region"}}
        )
        assert publisher.publish(v2).version == 2

        second = server.submit("complaint", "complaint", complaint_form(definition, region="华东"))
        assert second.app_version == 2 and second.data["region"] == "华东"
        _spec, tspec = server.type_spec("complaint", "complaint")
        assert "region" in {f.key for f in tspec.definition.form.fields}
        assert server.ticket(first.id).app_version == 1  # running tickets keep their version
    finally:
        one.dispose()
        other.dispose()


def test_a_rollback_published_elsewhere_is_seen_too(database_url):
    one, other = Database(database_url), Database(database_url)
    try:
        publisher, server = Runtime(one), Runtime(other)
        publisher.publish(APPS / "complaint.yaml")
        definition = server.definition("complaint")[1]
        v2 = deepcopy(definition)
        v2["ticket_types"]["complaint"]["form"]["sections"][0]["fields"].append(
            {"key": "region", "type": "text", "label": {"zh": "区域", "en": "Region"}}
        )
        publisher.publish(v2)
        assert server.submit("complaint", "complaint", complaint_form(definition)).app_version == 2
        assert publisher.publish(definition).version == 3  # the old definition again, as version 3
        with pytest.raises(FormError):  # version 3 has no region field any more
            server.submit("complaint", "complaint", complaint_form(definition, region="x"))
        assert server.submit("complaint", "complaint", complaint_form(definition)).app_version == 3
    finally:
        one.dispose()
        other.dispose()
