"""Stored secrets: encrypted with a key derived from SECRET_KEY."""

from __future__ import annotations

import pytest

from booking_service.core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret


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
