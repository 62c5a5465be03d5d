"""The standard lifecycle every new ticket type gets unless it draws its own flow."""

from __future__ import annotations

from typing import Any

#: created → accepted → in progress → review → closed, as in the requirement.
STANDARD_LIFECYCLE: dict[str, Any] = {
    "nodes": [
        {"id": "start", "type": "start", "name": {"zh": "创建", "en": "Created"}},
        {"id": "accept", "type": "task", "name": {"zh": "受理", "en": "Accept"}},
        {"id": "process", "type": "task", "name": {"zh": "处理", "en": "In progress"}},
        {
            "id": "review",
            "type": "approval",
            "name": {"zh": "审核", "en": "Review"},
            "mode": "single",
            "on_reject": "process",
        },
        {"id": "closed", "type": "end", "name": {"zh": "关闭", "en": "Closed"}},
    ],
    "edges": [["start", "accept"], ["accept", "process"], ["process", "review"], ["review", "closed"]],
}
