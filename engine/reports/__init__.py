"""Report engine: ticket metrics from events, ReportSpec → one SQL query, charts, drill-down, export.

Importing the package registers the reactor that keeps ``ticket_metrics`` in step with the events.
"""

from engine.reports import keeping, messages

__all__ = ["keeping", "messages"]
