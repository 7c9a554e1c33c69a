"""Run the Piccolo migrations in migrations/ (used by `portal migrate`, `portal demo` and the tests)."""

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards


class MigrationFailed(RuntimeError):
    pass


async def migrate(*, quiet: bool = True) -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output) if quiet else contextlib.nullcontext():
        result = await run_forwards(app_name="portal", migration_id="all")
    if not result.success:
        raise MigrationFailed(f"Migraties mislukt: {result.message}\n{output.getvalue()}")
