"""Further iRacing accounts in the settings: both halves or neither, secrets masked, per account."""

from __future__ import annotations

from pathlib import Path

import pytest

from ir2dis_cog.config.settings import SettingsError, load_settings

BASE = {
    "IRACING_EMAIL": "one@example.com",
    "IRACING_PASSWORD": "pw-one-123",
    "IRACING_CLIENT_ID": "client",
    "IRACING_CLIENT_SECRET": "client-secret-1",
}


def load(tmp_path: Path, **extra: str):  # type: ignore[no-untyped-def]
    return load_settings({**BASE, **extra}, config_file=tmp_path / "absent.json", mode="cog", data_dir=tmp_path)


def test_one_account_by_default_and_each_further_one_with_its_own_login(tmp_path: Path) -> None:
    assert load(tmp_path).account_count() == 1
    s = load(tmp_path, IRACING_EMAIL_2="two@example.com", IRACING_PASSWORD_2=" pw two ")
    assert s.account_count() == 2
    second = s.for_account(2)
    assert second.iracing_email is not None and second.iracing_email.get() == "two@example.com"
    assert second.iracing_password is not None and second.iracing_password.get() == " pw two "  # kept as typed
    assert second.iracing_client_id == "client"  # the same OAuth client
    assert s.for_account(1) is s
    with pytest.raises(ValueError, match="account 3 is not configured"):
        s.for_account(3)


def test_half_an_account_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, IRACING_EMAIL_3="three@example.com")
    assert caught.value.problems == ["IRACING_PASSWORD_3: missing (set both or neither)"]


def test_further_passwords_are_secrets_and_redacted(tmp_path: Path) -> None:
    s = load(tmp_path, IRACING_EMAIL_2="two@example.com", IRACING_PASSWORD_2="pw-two-456")
    assert "pw-two-456" not in repr(s)
    assert "pw-two-456" in s.secret_values()
