"""Encryption of secrets stored in the database (CalDAV passwords).

Secrets are encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``). The
key is derived from the installation's ``SECRET_KEY`` with HKDF and a purpose label, so the
same ``SECRET_KEY`` that signs sessions never serves directly as an encryption key, and a
copy of the database alone does not reveal the passwords.

Changing ``SECRET_KEY`` makes the stored secrets unreadable: :func:`decrypt_secret` then says
so, and the passwords must be entered again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["SecretDecryptionError", "decrypt_secret", "encrypt_secret"]

_PURPOSE = b"slotwise stored secrets v1"


class SecretDecryptionError(ValueError):
    """A stored secret cannot be decrypted with the current ``SECRET_KEY``."""


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty; set it before storing secrets")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(plaintext: str, secret_key: str) -> str:
    """Encrypt ``plaintext`` for storage.

    Parameters
    ----------
    plaintext : str
        The secret, e.g. a CalDAV password.
    secret_key : str
        The installation's ``SECRET_KEY`` (``Settings.secret_key``).

    Returns
    -------
    str
        A Fernet token (URL-safe base64 text), different on every call.
    """
    return _fernet(secret_key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str, secret_key: str) -> str:
    """Decrypt a token made by :func:`encrypt_secret`.

    Raises
    ------
    SecretDecryptionError
        If the token was made with another ``SECRET_KEY`` or was altered.
    """
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise SecretDecryptionError(
            "the stored password cannot be decrypted: SECRET_KEY has changed since it was saved "
            "or the value was altered; enter the password again"
        ) from None
