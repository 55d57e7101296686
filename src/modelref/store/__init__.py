"""SQL storage (SQLAlchemy Core): one schema, SQLite and PostgreSQL engines."""
