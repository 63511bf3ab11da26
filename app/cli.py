"""Command-line tools: ``flask --app wsgi outbox send``."""
from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from . import outbox

outbox_cli = AppGroup("outbox", help="Deliver the mails waiting in the outbox.")


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep running as a worker, polling the outbox.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between polls with --loop.")
@click.option("--batch", default=100, show_default=True, help="Mails tried per poll.")
def send_command(loop: bool, interval: float, batch: int) -> None:
    """Send every due mail once; with --loop, keep doing so."""
    while True:
        sent, failed = outbox.deliver_pending(limit=batch)
        if sent or failed or not loop:
            click.echo(f"outbox: {sent} sent, {failed} failed")
        if not loop:
            return
        if sent + failed < batch:
            time.sleep(interval)


def init_app(app) -> None:
    app.cli.add_command(outbox_cli)
