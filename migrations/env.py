import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    return get_engine().url.render_as_string(hide_password=False).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def render_item(type_, obj, autogen_context):
    """Write the project's column types as plain SQLAlchemy types: revisions never import models."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name, type_, parent_names):
    """The search index lives outside the models' metadata (see models.applicant.SEARCH_INDEX): an FTS5
    table with its shadow tables on SQLite, a GIN index on PostgreSQL. Autogenerate leaves them alone."""
    if type_ == "table" and name and name.startswith("applicants_search"):
        return False
    if type_ == "index" and name == "ix_applicants_search_text_trgm":
        return False
    return True


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def set_sqlite_foreign_keys(connection, on):
    """Foreign keys off while revisions run on SQLite, as SQLite's own procedure for schema changes says.

    A batch operation on SQLite copies the table, drops the old one and renames the copy. With foreign keys
    on, that DROP first deletes the table's rows, and with them every row that refers to them (ON DELETE
    CASCADE) or the reference (SET NULL): revision 0006, recreating `cases`, deleted every assessment,
    judgement, transition and task and cut audit events from their cases. The pragma only takes effect
    outside a transaction, so it goes to the driver's connection before the first one begins (the app's
    engine puts every connection in autocommit mode and begins transactions itself).
    """
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def check_foreign_keys(ctx, step, heads, run_args):
    """After each revision, inside its transaction: no row may point at a row that is not there."""
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({f"{row[0]} -> {row[2]}" for row in broken})
        raise RuntimeError(f"{step.up_revision_id or step.down_revision_ids}: {len(broken)} rows refer to rows "
                           f"that are not there ({', '.join(tables)}); nothing of this revision was applied.")


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives
    conf_args.setdefault("render_item", render_item)

    connectable = get_engine()

    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            conf_args = {**conf_args, "on_version_apply": check_foreign_keys}
            set_sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=get_metadata(),
                include_name=include_name,
                **conf_args
            )

            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                set_sqlite_foreign_keys(connection, on=True)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
