"""Stored secrets: encrypted with a key derived from SECRET_KEY."""

from __future__ import annotations

import pytest

from booking_service.core.crypto import (
    CALENDAR_PASSWORDS,
    OUTBOX_MAIL,
    SecretDecryptionError,
    decrypt_secret,
    encrypt_secret,
)


def test_round_trip_and_no_plaintext_in_the_token():
    token = encrypt_secret("hunter2-päss", "key-one")
    assert "hunter2" not in token
    assert decrypt_secret(token, "key-one") == "hunter2-päss"


def test_tokens_differ_each_time():
    assert encrypt_secret("same", "k") != encrypt_secret("same", "k")


@pytest.mark.parametrize("token", ["not-a-token", None])
def test_other_key_or_altered_token_is_refused(token):
    token = token or encrypt_secret("secret", "key-one")
    with pytest.raises(SecretDecryptionError, match="SECRET_KEY has changed"):
        decrypt_secret(token, "key-two")


def test_empty_secret_key_is_refused():
    with pytest.raises(ValueError, match="SECRET_KEY is empty"):
        encrypt_secret("x", "")


def test_each_purpose_has_its_own_key_and_its_own_words():
    token = encrypt_secret("the mail", "key-one", OUTBOX_MAIL)
    assert decrypt_secret(token, "key-one", OUTBOX_MAIL) == "the mail"
    # The same SECRET_KEY under another purpose is another key.
    with pytest.raises(SecretDecryptionError, match="the stored password cannot be decrypted"):
        decrypt_secret(token, "key-one", CALENDAR_PASSWORDS)
    with pytest.raises(SecretDecryptionError) as caught:
        decrypt_secret(token, "key-two", OUTBOX_MAIL)
    assert str(caught.value).startswith("the queued message cannot be decrypted: SECRET_KEY has changed")
    assert "it was not sent" in str(caught.value)


def test_calendar_passwords_keep_their_key():
    # Passwords stored before purposes existed were made with this label; it must not change.
    assert CALENDAR_PASSWORDS.label == b"slotwise stored secrets v1"
    assert decrypt_secret(encrypt_secret("pw", "k"), "k", CALENDAR_PASSWORDS) == "pw"
