"""SQLAlchemy Core storage: tables, engine set-up, repositories and the unit of work."""
