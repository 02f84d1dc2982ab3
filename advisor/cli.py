"""Command-line tools: `flask --app advisor create-admin | seed-demo`."""
from __future__ import annotations

import sys

import click
from flask import Flask

from models import Role, db

from . import accounts, demo
from .errors import DomainError


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)


@click.command("create-admin")
@click.option("--email", prompt=True, help="The admin's email address (used to sign in).")
@click.option("--name", prompt=True, help="The admin's full name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_admin(email: str, name: str, password_stdin: bool) -> None:
    """Create an admin account. There is no default admin: this is how the first one is made."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, _ = accounts.create_user(email=email, name=name, role=Role.ADMIN, by=None, password=password)
    except DomainError as refused:
        db.session.rollback()
        raise click.ClickException(str(refused)) from None
    db.session.commit()
    click.echo(f"Created admin {user.email}. Sign in at /auth/login.")


@click.command("seed-demo")
@click.option("--password", default=demo.DEFAULT_PASSWORD, show_default=True,
              help="The password every demo account gets.")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="Where the app is served.")
def seed_demo(password: str, url: str) -> None:
    """Fill the database with a demo practice; running it again changes nothing but the passwords."""
    try:
        summary = demo.seed(password=password)
    except DomainError as refused:
        db.session.rollback()
        raise click.ClickException(str(refused)) from None
    db.session.commit()
    click.echo(f"Demo practice ready: {summary.applicants} applicants, {summary.cases} cases "
               f"({summary.created} new).")
    click.echo(f"Sign in at {url.rstrip('/')}/auth/login with any of these accounts:")
    for user in summary.users:
        click.echo(f"  {user.role.value:8} {user.email:32} password: {password}")
