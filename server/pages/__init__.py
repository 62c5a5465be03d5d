"""Server-rendered pages, one module per area (portal, inbox, ticket, dashboards, admin)."""
