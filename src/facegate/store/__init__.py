"""The store: SQLAlchemy tables, migrations, the gated template repository, unit of work."""
