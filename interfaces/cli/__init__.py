"""The `tinylytics` command: run the server, the worker and the projections; administer it.

One module per command group (interfaces/cli/<group>.py); each defines its commands
and imports only interfaces/cli/shared.py, never this module, so there is no import
circle. Every group is registered on `main` here, in the one list below: a new group
is a new module and one line in it.
"""

import click

from interfaces.cli.jobs import jobs
from interfaces.cli.keys import keys
from interfaces.cli.mail import mail
from interfaces.cli.monitors import monitors
from interfaces.cli.projections import projections
from interfaces.cli.reports import reports
from interfaces.cli.running import serve, worker
from interfaces.cli.sites import sites
from interfaces.cli.users import users
from interfaces.cli.webhooks import webhooks
from interfaces.cli.webring import webring


@click.group()
@click.version_option(package_name="tinylytics")
def main() -> None:
    """Tinylytics: privacy-first web analytics."""


for command in (
    serve,
    worker,
    projections,
    users,
    sites,
    keys,
    webhooks,
    webring,
    jobs,
    mail,
    reports,
    monitors,
):
    main.add_command(command)
