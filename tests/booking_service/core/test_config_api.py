"""Settings of the JSON API and webhooks: checked when read, naming the variable and the fix."""

from __future__ import annotations

import pytest

from booking_service.core.config import ConfigError, load_settings


def test_defaults(tmp_path):
    settings = load_settings({"SLOTWISE_VAR_DIR": str(tmp_path)})
    assert (settings.api_rate_limit, settings.webhook_allowed_networks, settings.webhook_timeout_seconds) == (
        "120 per minute", "", 10.0)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("API_RATE_LIMIT", "lots", "is not a rate limit"),
        ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8, intranet", "'intranet' is not an IP address or network"),
        ("WEBHOOK_TIMEOUT_SECONDS", "ten", "is not a number of seconds"),
        ("WEBHOOK_TIMEOUT_SECONDS", "0", "must be more than 0"),
    ],
)
def test_bad_values_are_refused(tmp_path, name, value, words):
    with pytest.raises(ConfigError, match=words) as refused:
        load_settings({"SLOTWISE_VAR_DIR": str(tmp_path), name: value})
    assert name in str(refused.value)
