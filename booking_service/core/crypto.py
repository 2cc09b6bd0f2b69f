"""Encryption of secrets stored in the database: CalDAV passwords and queued mail.

Secrets are encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``). The
key is derived from the installation's ``SECRET_KEY`` with HKDF and a purpose label, so the
same ``SECRET_KEY`` that signs sessions never serves directly as an encryption key, each kind of
secret has a key of its own (:data:`CALENDAR_PASSWORDS`, :data:`OUTBOX_MAIL`), and a copy of the
database alone reveals none of them.

Changing ``SECRET_KEY`` makes the stored secrets unreadable: :func:`decrypt_secret` then says
so, in the words of the secret's :class:`Purpose` (a password must be entered again; a queued
message cannot be sent).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "CALENDAR_PASSWORDS",
    "OUTBOX_MAIL",
    "Purpose",
    "SecretDecryptionError",
    "decrypt_secret",
    "encrypt_secret",
]


@dataclass(frozen=True)
class Purpose:
    """What a key is for: its HKDF label, and how a secret that cannot be decrypted is described.

    Attributes
    ----------
    label : bytes
        HKDF ``info``; a different label gives an unrelated key. Never change a label in use:
        what was stored under it would become unreadable.
    what : str
        The secret, as the error message names it ("the stored password").
    remedy : str
        What the reader of the error should do.
    """

    label: bytes
    what: str
    remedy: str


CALENDAR_PASSWORDS = Purpose(b"slotwise stored secrets v1", "the stored password", "enter the password again")
OUTBOX_MAIL = Purpose(
    b"slotwise outbox mail v1",
    "the queued message",
    "it was not sent; resend the invitation or the meeting's confirmation from the dashboard",
)


class SecretDecryptionError(ValueError):
    """A stored secret cannot be decrypted with the current ``SECRET_KEY``."""


def _fernet(secret_key: str, purpose: Purpose) -> Fernet:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty; set it before storing secrets")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.label).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(plaintext: str, secret_key: str, purpose: Purpose = CALENDAR_PASSWORDS) -> str:
    """Encrypt ``plaintext`` for storage.

    Parameters
    ----------
    plaintext : str
        The secret, e.g. a CalDAV password.
    secret_key : str
        The installation's ``SECRET_KEY`` (``Settings.secret_key``).
    purpose : Purpose
        Which key: :data:`CALENDAR_PASSWORDS` (default) or :data:`OUTBOX_MAIL`.

    Returns
    -------
    str
        A Fernet token (URL-safe base64 text), different on every call.
    """
    return _fernet(secret_key, purpose).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str, secret_key: str, purpose: Purpose = CALENDAR_PASSWORDS) -> str:
    """Decrypt a token made by :func:`encrypt_secret` with the same ``purpose``.

    Raises
    ------
    SecretDecryptionError
        If the token was made with another ``SECRET_KEY`` or purpose, or was altered.
    """
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise SecretDecryptionError(
            f"{purpose.what} cannot be decrypted: SECRET_KEY has changed since it was saved "
            f"or the value was altered; {purpose.remedy}"
        ) from None
