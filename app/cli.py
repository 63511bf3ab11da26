"""Command-line tools: ``flask --app wsgi outbox send``."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from . import outbox
from .database import database_error_text, database_unavailable
from .extensions import db
from .flows import audit

log = logging.getLogger(__name__)

outbox_cli = AppGroup("outbox", help="Deliver the mails waiting in the outbox.")


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running as a worker, polling the outbox.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between polls with --loop.")
@click.option("--batch", default=100, show_default=True, help="Mails tried per poll.")
def send_command(loop: bool, interval: float, batch: int) -> None:
    """Send every due mail once; with --loop, keep doing so (through database outages too).
    Each pass (with --loop, at most once a minute) also does what `flask outbox purge` and
    `flask audit sweep` do."""
    swept_at = None
    while True:
        try:
            if swept_at is None or time.monotonic() - swept_at >= outbox.SWEEP_INTERVAL_SECONDS:
                _echo_sweep(*outbox.sweep())
                _echo_audit_sweep(audit.sweep(current_app.config["AUDIT_RETENTION_DAYS"]))
                swept_at = time.monotonic()
            sent, failed = outbox.deliver_pending(limit=batch)
        except SQLAlchemyError as exc:
            db.session.rollback()
            if not database_unavailable(exc):
                raise
            if not loop:
                raise click.ClickException(f"the database is unavailable: {database_error_text(exc)}") from exc
            log.warning(
                "Outbox worker: the database is unavailable (%s); trying again in %ss",
                database_error_text(exc),
                interval,
            )
            time.sleep(interval)
            continue
        if sent or failed or not loop:
            click.echo(f"outbox: {sent} sent, {failed} failed")
        if not loop:
            return
        if sent + failed < batch:
            time.sleep(interval)


@outbox_cli.command("purge")
def purge_command() -> None:
    """Delete the mails sent or given up more than OUTBOX_RETENTION_DAYS ago, and give up code
    mails whose code expired before they could be sent."""
    expired, purged = outbox.sweep()
    _echo_sweep(expired, purged, always=True)


def _echo_sweep(expired: int, purged: int, *, always: bool = False) -> None:
    if expired or purged or always:
        # its own prefix: "outbox: N sent" lines are what the tests and benchmarks add up
        click.echo(f"outbox sweep: {purged} purged, {expired} code mails expired unsent")


audit_cli = AppGroup("audit", help="The audit log of staff actions and security events.")


@audit_cli.command("sweep")
def audit_sweep() -> None:
    """Delete the audit rows older than AUDIT_RETENTION_DAYS."""
    _echo_audit_sweep(audit.sweep(current_app.config["AUDIT_RETENTION_DAYS"]), always=True)


def _echo_audit_sweep(deleted: int, *, always: bool = False) -> None:
    if deleted or always:
        click.echo(f"audit sweep: {deleted} rows older than the retention deleted")


downloads_cli = AppGroup("downloads", help="The download log, for the press office.")


@downloads_cli.command("export")
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    show_default=True,
    help="CSV file to write; - for standard output.",
)
def export_downloads(output) -> None:
    """Write every download as CSV: when, who, organisation, story, rendition, the bytes sent and
    the requests that made it (one account's requests of one file within DOWNLOAD_COUNT_WINDOW_HOURS)."""
    from .flows.reports import DOWNLOAD_COLUMNS, download_rows, write_csv

    write_csv(output, DOWNLOAD_COLUMNS, download_rows())


users_cli = AppGroup("users", help="Accounts for the press office.")


@users_cli.command("create-staff")
@click.argument("email")
@click.option("--first-name", default="Press", show_default=True)
@click.option("--last-name", default="Office", show_default=True)
@click.option("--organisation", default="Press office", show_default=True)
@click.password_option(help="Asked for (twice) when not given.")
def create_staff(email, first_name, last_name, organisation, password) -> None:
    """Create a verified staff account, or make an existing account staff."""
    from .flows.staff import StaffError, create_staff_user

    try:
        user, created = create_staff_user(email, password, first_name, last_name, organisation)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'created' if created else 'updated'} staff account {user.email}")


@users_cli.command("promote")
@click.argument("email")
def promote(email) -> None:
    """Make an existing, verified account staff: it may then use /staff/."""
    _set_staff(email, True)


@users_cli.command("demote")
@click.argument("email")
def demote(email) -> None:
    """Make a staff account an ordinary account again (at once: /staff/ is then a 404 for it)."""
    _set_staff(email, False)


@users_cli.command("reset-second-factor")
@click.argument("email")
def reset_second_factor(email) -> None:
    """Remove every second factor of an account whose owner lost them all (after checking who
    asks): its passkeys, authenticator, recovery codes and logins go; the owner is mailed; audited."""
    from .flows.accounts import find_user
    from .flows.emails import InvalidEmail, normalize_email
    from .flows.second_factor import reset_second_factor as reset

    try:
        user = find_user(normalize_email(email))
    except InvalidEmail:
        user = None
    if user is None:
        raise click.ClickException(f"no account has the address {email}")
    reset(user)
    click.echo(f"every second factor of {user.email} is removed; it signs in with its password alone")


def _set_staff(email: str, staff: bool) -> None:
    from .flows.staff import StaffError, set_staff

    try:
        user = set_staff(email, staff)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.email} is {'now' if staff else 'no longer'} staff")


def init_app(app) -> None:
    app.cli.add_command(outbox_cli)
    app.cli.add_command(downloads_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(users_cli)
