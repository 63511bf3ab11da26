"""``flask newsletter send [--dry-run]``."""

import click

from ..flows.newsletter import send_digest
from . import bp

bp.cli.help = "The newsletter: queue the digest of new stories for every subscriber."


@bp.cli.command("send")
@click.option("--dry-run", is_flag=True, help="Show what would go out; queue nothing.")
@click.option("--batch-size", default=500, show_default=True, help="Subscribers per transaction.")
def send_command(dry_run: bool, batch_size: int) -> None:
    """Queue a digest of the stories published since the previous issue for every subscriber.

    The outbox worker (`flask outbox send`) delivers them. Running it again sends nothing twice.
    """
    report = send_digest(dry_run=dry_run, batch_size=batch_size)
    if not report.stories:
        click.echo("No new stories since the previous issue: nothing to send.")
        return
    click.echo(f"{len(report.stories)} new stories:")
    for published, title in report.stories:
        click.echo(f"  {published:%Y-%m-%d}  {title}")
    if dry_run:
        click.echo(f"Dry run: would queue a digest for {report.subscribers} subscribers.")
    else:
        click.echo(f"Queued {report.queued} digests (issue {report.issue_id}); `flask outbox send` delivers them.")
