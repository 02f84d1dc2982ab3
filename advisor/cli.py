"""Command-line tools: `flask --app advisor create-admin | seed-demo | import-institutions | reassess`."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from models import Case, CaseStatus, Role, db

from . import accounts, assessments, backup, demo, filestore, institutions, links, packets
from .errors import DomainError
from .packet_pdf import PacketError
from .storage import MissingFile, StorageError


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(import_institutions)
    app.cli.add_command(reassess)
    app.cli.add_command(storage_check)
    app.cli.add_command(export_packet)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(export_packets)


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
    click.echo(f"Created admin {user.email}. Sign in at {_sign_in_url()}.")


def _sign_in_url() -> str:
    """The sign-in page on the configured address (EXTERNAL_URL), or its path when none is set."""
    try:
        return links.external_url("auth.login")
    except links.NoExternalUrl:
        return "/auth/login"


@click.command("seed-demo")
@click.option("--password", default=demo.DEFAULT_PASSWORD, show_default=True,
              help="The password every demo account gets.")
@click.option("--url", default=None, help="Where the app is served (default: the EXTERNAL_URL setting).")
@click.option("--cases", "target", type=click.IntRange(min=0, max=500_000), default=0,
              help="Generate cases until there are this many in all, e.g. 10000 to try the lists at scale "
                   "(seconds, in bulk), with degrees, assessments and document checklists (no files).")
def seed_demo(password: str, url: str | None, target: int) -> None:
    """Fill the database with a demo practice; running it again changes nothing but the passwords."""
    try:
        summary = demo.seed(password=password, cases=target)
    except DomainError as refused:
        db.session.rollback()
        raise click.ClickException(str(refused)) from None
    db.session.commit()
    click.echo(f"Demo practice ready: {summary.applicants} applicants, {summary.cases} cases "
               f"({summary.created} new).")
    click.echo(f"Institution registry: {summary.institutions} institutions ({summary.institutions_created} new).")
    click.echo(f"Sign in at {url.rstrip('/') + '/auth/login' if url else _sign_in_url()} with any of these accounts:")
    for user in summary.users:
        click.echo(f"  {user.role.value:8} {user.email:32} password: {password}")


@click.command("reassess")
def reassess() -> None:
    """Re-run the assessment of every open case assessed under a rule set no longer in force."""
    report = assessments.reassess_open_cases(by=None)
    db.session.commit()
    changed = [row for row in report if row.changed]
    click.echo(f"Re-assessed {len(report)} open case(s) under {assessments.current_rule_set().id}; "
               f"{len(changed)} changed outcome.")
    for row in changed:
        click.echo(f"  {row.case.reference}: {row.before} -> {row.after} (was {row.previous_rule_set})")


@click.command("import-institutions")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_institutions(file: Path) -> None:
    """Import the institution registry from a CSV file (UTF-8) with the columns
    name,country,aliases,rank,renowned,source; aliases are separated by |.

    Existing institutions (same name and country) are updated. With any error nothing is imported.
    """
    try:
        report = institutions.import_csv(institutions.decode_csv(file.read_bytes()), by=None)
    except DomainError as refused:
        report = institutions.ImportReport(errors=[str(refused)])
    if report.errors:
        db.session.rollback()
        for error in report.errors:
            click.echo(error, err=True)
        click.echo(f"Nothing was imported from {file.name}.", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Imported {file.name}: {report.created} created, {report.updated} updated, "
               f"{report.unchanged} unchanged.")


@click.command("storage-check")
@click.option("--delete-orphans", is_flag=True,
              help="Delete the stored files no row names, and partial files of writes interrupted over an hour ago.")
def storage_check(delete_orphans: bool) -> None:
    """Report stored files no row names (orphans), rows whose file is gone (missing) and partial files of
    unfinished writes; exit 1 if any is missing."""
    report = filestore.check()
    click.echo(f"Storage {filestore.current().url}: {report.stored} files stored, {report.referenced} named by "
               f"the database.")
    for key in report.orphans:
        click.echo(f"orphan  {key}")
    for key in report.missing:
        click.echo(f"missing {key}")
    for key in report.strays:
        click.echo(f"stray   {key} (not a name the app gives a file: left alone)")
    for folder, count in report.set_aside.items():
        click.echo(f"aside   {folder}/ ({count} files a restore moved aside: kept until you remove them)")
    for partial in report.partials:
        age = _age(report.checked_at - partial.modified_at)
        state = "interrupted write" if report.is_interrupted(partial) else "in progress, left alone"
        click.echo(f"partial {partial.name} ({partial.size:,} bytes, last written {age} ago: {state})")
    if delete_orphans and report.orphans:
        click.echo(f"Deleted {filestore.remove_orphans(report)} orphan files.")
    if delete_orphans and report.interrupted:
        click.echo(f"Deleted {filestore.remove_interrupted(report)} partial files of interrupted writes.")
    click.echo(f"{len(report.orphans)} orphans, {len(report.missing)} missing.")
    if report.partials:
        click.echo(f"{len(report.partials)} partial writes ({len(report.interrupted)} interrupted).")
    if report.missing:
        sys.exit(1)


def _age(age: dt.timedelta) -> str:
    minutes = max(int(age.total_seconds()) // 60, 0)
    if minutes < 1:
        return "under a minute"
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _write_packet(case: Case, out: Path, *, draft: bool) -> str:
    """Export one case's packet to `out`; a final is also stored and recorded, as from the case page."""
    try:
        if draft:
            built = packets.export_draft(case, by=None)  # type: ignore[arg-type]
            data, pages = built.pdf, built.page_count
        else:
            packet = packets.export_final(case, by=None)
            data, pages = packets.read_final(packet, by=None), packet.page_count
    except (DomainError, PacketError, MissingFile, packets.Damaged) as refused:
        db.session.rollback()
        raise click.ClickException(f"{case.reference}: {refused}") from None
    db.session.commit()
    out.write_bytes(data)
    return f"{case.reference}: {'draft' if draft else 'final'} packet, {pages} pages, {len(data):,} bytes -> {out}"


@click.command("export-packet")
@click.argument("reference")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--draft", is_flag=True, help="A draft (watermarked on every page) instead of a final packet.")
def export_packet(reference: str, out: Path, draft: bool) -> None:
    """Export the submission packet of the case REFERENCE (e.g. K-2026-000123) to a PDF file."""
    case = db.session.scalar(select(Case).where(Case.reference == reference.strip().upper(),
                                                Case.deleted_at.is_(None)))
    if case is None:
        raise click.ClickException(f"No case {reference}.")
    click.echo(_write_packet(case, out, draft=draft))


@click.command("export-packets")
@click.option("--status", type=click.Choice([s.value for s in CaseStatus]), default="ready", show_default=True)
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--draft", is_flag=True, help="Drafts instead of final packets.")
def export_packets(status: str, folder: Path, draft: bool) -> None:
    """Export the packet of every case in a status into a folder, one PDF per case; failures are listed."""
    folder.mkdir(parents=True, exist_ok=True)
    found = list(db.session.scalars(select(Case).where(Case.status == CaseStatus(status), Case.deleted_at.is_(None))
                                    .order_by(Case.reference)))
    failed = 0
    for case in found:
        try:
            click.echo(_write_packet(case, folder / f"{case.reference}{'-draft' if draft else ''}.pdf", draft=draft))
        except click.ClickException as problem:
            failed += 1
            click.echo(f"failed  {problem.message}", err=True)
    click.echo(f"{len(found) - failed} of {len(found)} cases exported to {folder}.")
    if failed:
        sys.exit(1)


@click.command("backup")
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new (or empty) folder for the backup.")
def backup_command(folder: Path) -> None:
    """Copy the database consistently (SQLite backup API, or pg_dump) and every stored file into a folder."""
    try:
        done = backup.backup(folder)
    except (backup.BackupError, MissingFile) as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(f"Backup in {done.folder}: {done.database} and {done.files} files ({done.bytes:,} bytes).")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--accept-unsigned", is_flag=True,
              help="Restore a backup whose manifest is not signed (made before manifests were signed).")
def restore_command(folder: Path, yes: bool, accept_unsigned: bool) -> None:
    """Replace the database and the stored files with a backup made by `backup` (stop the app first).
    Stored files that are not in the backup are moved aside into a new folder, never deleted."""
    if not yes:
        click.confirm("This replaces every record of the database with the backup's. Continue?", abort=True)
    try:
        done = backup.restore(folder, accept_unsigned=accept_unsigned)
    except (backup.BackupError, StorageError) as problem:
        raise click.ClickException(str(problem)) from None
    click.echo(f"Restored {done.database} and {done.files} files ({done.bytes:,} bytes) from {done.folder}.")
    if done.set_aside:
        click.echo(f"Moved {done.moved} stored files that were not in the backup aside into "
                   f"{filestore.current().url.rstrip('/')}/{done.set_aside}/ (nothing was deleted).")
