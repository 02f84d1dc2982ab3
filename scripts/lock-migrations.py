#!/usr/bin/env python3
"""Lock migration revisions: record each revision file's SHA-256 in migrations/revisions.lock.

A revision that has landed is never edited again: every database made from it has already run it, so an
edit changes nothing there and makes new databases differ from old ones. The lock file lists each revision
with the hash of its bytes (line endings normalised to LF, so a Windows checkout hashes the same), and
tests/test_migrations.py fails when a listed file changed or is gone, or when a revision is not listed yet.

    python scripts/lock-migrations.py            # lock the revisions not listed yet (appends, never rewrites)
    python scripts/lock-migrations.py --check    # only report; exit 1 on any problem

Adding a revision: write it, then run this script once and commit the lock file with it. The script refuses
to run while a listed revision differs from its hash: the fix is to undo that edit and write a new revision.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "migrations" / "versions"
LOCK = ROOT / "migrations" / "revisions.lock"
COMMAND = "python scripts/lock-migrations.py"
HEADER = f"""\
# Every migration revision with the SHA-256 of its file (line endings normalised to LF).
# A listed revision is never edited again: a change to the schema is always a new revision.
# Lock a new revision with `{COMMAND}` (it appends; it never rewrites a line).
"""


def digest(path: Path) -> str:
    data = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def revision_files(versions: Path) -> list[Path]:
    return sorted(versions.glob("*.py"))


def read_lock(lock: Path) -> dict[str, str]:
    """File name -> hash, as listed; a malformed line stops everything, naming the line."""
    listed: dict[str, str] = {}
    if not lock.exists():
        return listed
    for number, line in enumerate(lock.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64 or parts[1] in listed:
            raise SystemExit(f"{lock}:{number}: expected '<sha256>  <revision file>' once per file, got {line!r}")
        listed[parts[1]] = parts[0]
    return listed


@dataclass
class Report:
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return bool(self.changed or self.removed)

    def messages(self) -> list[str]:
        found = [f"{name} was edited after it was locked: undo the edit and put the change into a new revision "
                 f"(every database made from {name} has already run it as it was)." for name in self.changed]
        found += [f"{name} is locked but gone: restore it (databases made from it still record it as their "
                  f"revision)." for name in self.removed]
        found += [f"{name} is not locked yet: run `{COMMAND}` and commit migrations/revisions.lock with it."
                  for name in self.unlisted]
        return found


def check(versions: Path = VERSIONS, lock: Path = LOCK) -> Report:
    listed = read_lock(lock)
    present = {path.name: path for path in revision_files(versions)}
    report = Report()
    for name, expected in listed.items():
        if name not in present:
            report.removed.append(name)
        elif digest(present[name]) != expected:
            report.changed.append(name)
    report.unlisted = [name for name in present if name not in listed]
    return report


def lock_new(versions: Path = VERSIONS, lock: Path = LOCK) -> list[str]:
    """Append a line for each revision not listed yet; refuse while a listed one is edited or gone."""
    report = check(versions, lock)
    if report.broken:
        raise SystemExit("\n".join(report.messages()))
    if not report.unlisted:
        return []
    text = lock.read_text(encoding="utf-8") if lock.exists() else HEADER
    if text and not text.endswith("\n"):
        text += "\n"
    text += "".join(f"{digest(versions / name)}  {name}\n" for name in report.unlisted)
    lock.write_text(text, encoding="utf-8")
    return report.unlisted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report problems without writing; exit 1 if any")
    parser.add_argument("--versions", type=Path, default=VERSIONS, help=argparse.SUPPRESS)
    parser.add_argument("--lock", type=Path, default=LOCK, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        report = check(args.versions, args.lock)
        for message in report.messages():
            print(message, file=sys.stderr)
        return 1 if report.messages() else 0
    added = lock_new(args.versions, args.lock)
    for name in added:
        print(f"locked {name}")
    if not added:
        print("Every revision is locked already.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
