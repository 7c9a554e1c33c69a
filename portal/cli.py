"""The `portal` command: migrate, demo, serve, worker, generate."""

import asyncio
import sys
import time

import click

from portal.settings import get_settings


def _run(coroutine):
    return asyncio.run(coroutine)


async def _with_pool(coroutine_function, *args, **kwargs):
    from portal.db import close_pool, start_pool

    settings = get_settings()
    await start_pool(settings)
    try:
        return await coroutine_function(*args, **kwargs)
    finally:
        await close_pool()


@click.group()
def main() -> None:
    """Inzicht: toezicht op taakgerichte contracten Wmo en Jeugd."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from portal.migrate import migrate as run_migrations

    _run(_with_pool(run_migrations))
    click.echo(f"Database bijgewerkt: {_describe_database()}")


@main.command()
@click.option("--scenario", default="haarlem", show_default=True, help="Which demo scenario to load.")
@click.option("--cases", default=3000, show_default=True, help="How many cases to generate.")
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--reset/--keep", default=False, help="Empty the database first.")
@click.option("--serve/--no-serve", default=True, help="Start the web server after loading.")
def demo(scenario: str, cases: int, seed: int, reset: bool, serve: bool) -> None:
    """Migrate, load realistic demo data (once), and serve on http://127.0.0.1:8000."""
    from portal.demo.generator import load_demo
    from portal.migrate import migrate as run_migrations

    started = time.perf_counter()

    async def prepare():
        await run_migrations()
        return await load_demo(scenario=scenario, cases=cases, seed=seed, reset=reset)

    summary = _run(_with_pool(prepare))
    elapsed = time.perf_counter() - started
    if summary.loaded:
        click.echo(f"Demodata '{summary.scenario}' geladen in {elapsed:.1f} s: {summary.describe()}")
    else:
        click.echo(f"Demodata was al geladen ({summary.describe()}); gebruik --reset om opnieuw te beginnen.")
    click.echo("")
    click.echo("Inloggen kan met deze demo-accounts (wachtwoord voor allemaal: " + summary.password + "):")
    for email, description in summary.logins:
        click.echo(f"  {email:<42} {description}")
    if serve:
        settings = get_settings()
        click.echo(f"\nInzicht draait op http://{settings.host}:{settings.port}  (stoppen: Ctrl+C)")
        _serve(settings.host, settings.port)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default PORTAL_HOST).")
@click.option("--port", default=None, type=int, help="Port (default PORTAL_PORT).")
@click.option("--workers", default=1, show_default=True, help="Number of processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the portal (uvicorn)."""
    settings = get_settings()
    _serve(host or settings.host, port or settings.port, workers=workers)


@main.command()
def worker() -> None:
    """Run the arq worker (needs PORTAL_REDIS_URL)."""
    settings = get_settings()
    if not settings.redis_url:
        raise click.ClickException("PORTAL_REDIS_URL is niet gezet: zonder Redis draaien taken in het portaalproces.")
    import logging.config

    from arq import run_worker
    from arq.logs import default_log_config

    from workers.settings import WorkerSettings

    # arq's own log lines (job started, finished, retried) on standard error, as `arq` itself would
    logging.config.dictConfig(default_log_config(verbose=False))
    run_worker(WorkerSettings)


@main.command()
@click.option("--scenario", default="haarlem", show_default=True)
@click.option("--cases", default=3000, show_default=True)
@click.option("--seed", default=2026, show_default=True)
def generate(scenario: str, cases: int, seed: int) -> None:
    """Generate a scenario's data into the database (always adds; use `demo --reset` to start over)."""
    from portal.demo.generator import load_demo

    summary = _run(_with_pool(load_demo, scenario=scenario, cases=cases, seed=seed, reset=False, force=True))
    click.echo(summary.describe())


@main.command("create-organisation")
@click.option("--name", required=True, help="Name of the organisation.")
@click.option("--kind", required=True,
              type=click.Choice(["municipality", "main_contractor", "subcontractor", "platform"]))
@click.option("--kvk-number", default=None, help="Chamber of Commerce number (8 digits).")
def create_organisation(name: str, kind: str, kvk_number: str | None) -> None:
    """Create an organisation (e.g. the platform organisation for the first admin)."""
    from portal.accounts import service
    from portal.accounts.schemas import OrganisationInput, parse
    from portal.lib.errors import DomainError

    try:
        data = parse(OrganisationInput, {"name": name, "kind": kind, "kvk_number": kvk_number})
        organisation_id = _run(_with_pool(service.create_organisation, None, data))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Organisatie {data.name} aangemaakt (id {organisation_id}).")


@main.command("create-user")
@click.option("--email", required=True, help="E-mail address (the login name).")
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--organisation-id", required=True, type=int, help="Id of the person's organisation.")
@click.option("--role", required=True, type=click.Choice(["contract_manager", "coordinator", "subcontractor", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@click.option("--privacy", is_flag=True, help="Give a contract manager the privacy role (AVG access requests).")
def create_user(email: str, display_name: str, organisation_id: int, role: str, password_stdin: bool,
                privacy: bool) -> None:
    """Create an account (recorded in the audit trail with origin 'cli')."""
    from portal.accounts import service
    from portal.accounts.schemas import UserInput, parse
    from portal.lib.errors import DomainError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Wachtwoord", hide_input=True, confirmation_prompt="Herhaal het wachtwoord")
    try:
        data = parse(UserInput, {"email": email, "display_name": display_name,
                                 "organisation_id": organisation_id, "role": role, "privacy_officer": privacy})
        user_id = _run(_with_pool(service.create_user, None, data, password))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Account {data.email} aangemaakt (id {user_id}).")


@main.command("create-api-key")
@click.option("--email", required=True, help="E-mail address of the account the key acts for.")
@click.option("--name", required=True, help="Name of the key (e.g. the system that uses it).")
def create_api_key(email: str, name: str) -> None:
    """Create an API key for the JSON API and print it once (audited with origin 'cli')."""
    from portal.accounts import api_keys
    from portal.lib.errors import DomainError

    try:
        created = _run(_with_pool(api_keys.create_api_key_for, email, name))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"API-sleutel '{created.name}' aangemaakt (id {created.id}). Deze sleutel wordt maar één keer "
               "getoond; bewaar hem veilig:", err=True)
    click.echo(created.key)


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit trail; exits with status 1 when a link is broken."""
    from portal.accounts.audit import verify_chain

    report = _run(_with_pool(verify_chain))
    click.echo(report.describe())
    if not report.ok:
        sys.exit(1)


@main.command("rotate-pseudonym-key")
@click.option("--new-key-env", default="PORTAL_NEW_PSEUDONYM_KEY", show_default=True,
              help="Name of the environment variable that holds the new key (the key itself is never an option).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_pseudonym_key(new_key_env: str, yes: bool) -> None:
    """Re-key every pseudonym in one transaction: p -> HMAC(new key, p). The old chain comes from the settings
    (PORTAL_PSEUDONYM_PREVIOUS_KEYS + PORTAL_PSEUDONYM_KEY, or var/dev-keys.json); no key is ever printed."""
    import os

    from portal.lib.errors import DomainError
    from portal.privacy import keys as key_files
    from portal.privacy import service

    settings = get_settings()
    old_chain = settings.pseudonym_keys
    new_key = os.environ.get(new_key_env, "").encode()
    dev_file = None
    if not new_key:
        if settings.environment == "production" or os.environ.get("PORTAL_PSEUDONYM_KEY"):
            raise click.ClickException(f"Zet de nieuwe sleutel in de omgevingsvariabele {new_key_env} "
                                       "(minstens 32 tekens); hij wordt niet getoond of opgeslagen in de database.")
        dev_file = key_files.prepare_dev_rotation(settings.var_dir)  # development: var/dev-keys.json
        new_key = dev_file.new_key
    if len(new_key) < 32:
        raise click.ClickException(f"De nieuwe sleutel in {new_key_env} is te kort: gebruik minstens 32 tekens.")
    if not yes:
        click.confirm(f"Alle pseudoniemen opnieuw versleutelen ({len(old_chain)} -> {len(old_chain) + 1} "
                      "sleutels)? Zonder de nieuwe sleutel in de instellingen zijn inwoners daarna niet meer terug "
                      "te vinden", abort=True)
    try:
        result = _run(_with_pool(service.rotate_pseudonym_key, old_chain, new_key))
    except (DomainError, service.KeyMismatch) as exc:
        if dev_file:
            dev_file.discard()
        raise click.ClickException(getattr(exc, "message", None) or str(exc)) from None
    if dev_file:
        dev_file.commit()
    click.echo(f"Sleutel geroteerd: {result.pseudonyms} pseudoniemen in {result.cases} casussen opnieuw "
               f"versleuteld; de reeks heeft nu {result.layers} sleutels.")
    if dev_file:
        click.echo(f"De sleutels staan in {dev_file.path} (ontwikkelomgeving).")
    else:
        click.echo("Zet nu in de instellingen van elk portaal- en workerproces: PORTAL_PSEUDONYM_PREVIOUS_KEYS = de "
                   "vorige reeks met de oude PORTAL_PSEUDONYM_KEY achteraan (kommagescheiden), en "
                   f"PORTAL_PSEUDONYM_KEY = de waarde van {new_key_env}. Herstart daarna de processen.")


@main.group()
def privacy() -> None:
    """Privacy: retention after closing."""


@privacy.command("retention")
def privacy_retention() -> None:
    """Run the retention job now (idempotent; the daily job does the same)."""
    from portal.privacy import service

    summary = _run(_with_pool(service.run_retention, None, "cli"))
    click.echo(f"Bewaartermijnen toegepast ({summary.contracts} contracten): {summary.cases} casussen "
               f"geanonimiseerd, tekst verwijderd uit {summary.event_texts} stappen, {summary.signal_texts} "
               f"signalen en {summary.comment_texts} reacties.")


@main.group()
def signals() -> None:
    """Signals: the time-driven rules."""


@signals.command("scan")
@click.option("--full", is_flag=True, help="Every rule on every contract, also where nothing changed today "
                                            "(after an upgrade that changed a rule's wording).")
def signals_scan(full: bool) -> None:
    """Run the scan now (idempotent; the hourly job does the same)."""
    from portal.signals import service

    summary = _run(_with_pool(service.run_scan, full=full))
    for name, rule in summary.rules.items():
        # "opgesteld": what the rule drafted for the contracts it looked at (none for those it skipped)
        click.echo(f"{name}: {rule.signals} signalen opgesteld ({rule.created} nieuw, {rule.updated} bijgewerkt), "
                   f"{rule.closed} gesloten; {rule.skipped} contracten ongewijzigd overgeslagen ({rule.millis:.0f} ms)")


def _serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run("portal.asgi:app", host=host, port=port, workers=workers, proxy_headers=True, log_level="info")


def _describe_database() -> str:
    settings = get_settings()
    return str(settings.sqlite_path) if settings.is_sqlite else settings.database_url.split("@")[-1]


if __name__ == "__main__":
    sys.exit(main())
