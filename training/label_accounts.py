"""Who may use the labelling app: accounts with a hashed secret and a role.

An admin creates labellers (``convenv serve-labels users add NAME [--admin]``); the
first start of an app with no accounts creates an admin and prints its secret once.
Secrets are stored only as Argon2id hashes (``argon2-cffi``). Names are compared by a
key that folds case, compatibility forms and letters of other scripts that look like
Latin ones, so "AUTO", "auto\\u200b" or a Cyrillic "аuto" can neither pass for the
reserved name ``auto`` nor for another labeller.

Accounts live in an SQLite file beside the label store (``labels.accounts.sqlite``
for ``labels.sqlite``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sqlite3
import time
import unicodedata
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from convenv.errors import InvalidArgumentError, MissingDependencyError
from convenv.training.label_store import AUTO_LABELLER, DEFAULT_STORE
from convenv.training.sqlite_file import (
    DEFAULT_LOCK_TIMEOUT,
    connect,
    refuse_empty,
    rollback,
    translated,
)

ROLES = ("admin", "labeller")
RESERVED_NAMES = (AUTO_LABELLER,)
MAX_NAME = 64
MIN_SECRET = 8
# Letters of other scripts drawn like Latin ones (from Unicode's confusables.txt, the
# lowercase Cyrillic and Greek entries; NFKC and casefold handle the rest).
LOOKALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j",
        "к": "k", "ӏ": "l", "м": "m", "п": "n", "о": "o", "р": "p", "ԛ": "q", "г": "r",
        "ѕ": "s", "т": "t", "ц": "u", "ѵ": "v", "ԝ": "w", "х": "x", "у": "y", "ӡ": "z",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
        "0": "o", "1": "l", "|": "l",
    }
)  # fmt: skip
SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'labeller')),
    created REAL NOT NULL
);
"""


def name_key(name: str) -> str:
    """The form two names are compared in: equal keys are the same person."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return folded.translate(LOOKALIKES)


def checked_name(name: str) -> str:
    """``name`` stripped, or InvalidArgumentError naming what is wrong with it."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidArgumentError(f"name={name!r}: give a name of 1-{MAX_NAME} characters.")
    # isprintable() is False for control, format (zero-width) and separator characters
    # other than the space, which would make two names look alike.
    if not name.isprintable():
        raise InvalidArgumentError(
            f"name={name!r} holds control or invisible characters; type a plain name."
        )
    if name_key(name) in {name_key(r) for r in RESERVED_NAMES}:
        raise InvalidArgumentError(
            f"name={name!r} is reserved (it marks decisions made without a person); "
            "pick another name."
        )
    return name


def password_hasher():
    try:
        from argon2 import PasswordHasher
    except ImportError as err:
        raise MissingDependencyError(
            "Labelling accounts need argon2-cffi: pip install 'convenv[web]'."
        ) from err
    return PasswordHasher()


def accounts_path(store: Path | str) -> Path:
    """Where the accounts of a label store live: beside it."""
    store = Path(store)
    return store.with_name(f"{store.stem}.accounts.sqlite")


@dataclass(frozen=True)
class Account:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Accounts:
    """The accounts of one labelling app, in an SQLite file."""

    def __init__(self, path: Path | str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        refuse_empty(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = lock_timeout
        self.hasher = password_hasher()
        # Verifying an unknown name costs as much as a known one: no timing tells.
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        with closing(self._connect()) as db, translated(self.path, "opened", lock_timeout):
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, self.timeout)

    def add(self, name: str, secret: str, role: str = "labeller") -> Account:
        """A new account; InvalidArgumentError if the name is taken or reserved."""
        name = checked_name(name)
        if role not in ROLES:
            raise InvalidArgumentError(f"role={role!r}; pass one of {ROLES}.")
        if len(secret) < MIN_SECRET:
            raise InvalidArgumentError(
                f"the secret has {len(secret)} characters; give at least {MIN_SECRET}."
            )
        row = (name_key(name), name, self.hasher.hash(secret), role, time.time())
        with closing(self._connect()) as db, translated(self.path, "written", self.timeout):
            db.execute("BEGIN IMMEDIATE")
            try:
                taken = db.execute("SELECT name FROM accounts WHERE key = ?", (row[0],)).fetchone()
                if taken:
                    raise InvalidArgumentError(
                        f"name={name!r} is taken (by {taken[0]!r}, which reads the same); "
                        "pick another name."
                    )
                db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?, ?)", row)
                db.execute("COMMIT")
            except BaseException:
                rollback(db)
                raise
        return Account(name, role)

    def verify(self, name: str, secret: str) -> Account | None:
        """The account whose name and secret these are, or None."""
        from argon2.exceptions import VerificationError

        with closing(self._connect()) as db, translated(self.path, "read", self.timeout):
            row = db.execute(
                "SELECT name, secret_hash, role FROM accounts WHERE key = ?",
                (name_key(name.strip()),),
            ).fetchone()
        try:
            self.hasher.verify(row[1] if row else self._dummy, secret)
        except VerificationError:
            return None
        return Account(row[0], row[2]) if row else None

    def all(self) -> list[Account]:
        with closing(self._connect()) as db, translated(self.path, "read", self.timeout):
            rows = db.execute("SELECT name, role FROM accounts ORDER BY created").fetchall()
        return [Account(name, role) for name, role in rows]

    def remove(self, name: str) -> bool:
        with closing(self._connect()) as db, translated(self.path, "written", self.timeout):
            gone = db.execute("DELETE FROM accounts WHERE key = ?", (name_key(name),))
            return gone.rowcount > 0

    def __len__(self) -> int:
        return len(self.all())


def new_secret() -> str:
    return secrets.token_urlsafe(12)


def main(argv: list[str] | None = None) -> int:
    """``convenv serve-labels users add|list|remove``."""
    from convenv.cli import plain

    parser = argparse.ArgumentParser(
        prog="convenv serve-labels users",
        description=plain(__doc__),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--store", default=DEFAULT_STORE, help="the label store the app serves")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account (asks for its secret)")
    add.add_argument("name", help="the person's name, recorded with each decision")
    add.add_argument("--admin", action="store_true", help="may export and add people")
    add.add_argument(
        "--secret-env",
        default=None,
        help="read the secret from this environment variable instead of asking",
    )
    commands.add_parser("list", help="the accounts and their roles")
    remove = commands.add_parser("remove", help="delete an account (its decisions stay)")
    remove.add_argument("name", help="the account to delete")
    args = parser.parse_args(argv)
    accounts = Accounts(accounts_path(args.store))
    if args.command == "add":
        if args.secret_env:
            secret = os.environ.get(args.secret_env, "")
            if not secret:
                parser.error(f"--secret-env {args.secret_env}: that variable is not set")
        else:
            secret = getpass.getpass(f"secret for {args.name} (at least {MIN_SECRET} chars): ")
        account = accounts.add(args.name, secret, "admin" if args.admin else "labeller")
        print(f"added {account.role} {account.name!r} to {accounts.path}")
    elif args.command == "list":
        for account in accounts.all():
            print(f"{account.name}\t{account.role}")
    elif not accounts.remove(args.name):
        parser.error(f"no account named {args.name!r}")
    else:
        print(f"removed {args.name!r}; the decisions made under that name stay in the store")
    return 0
