"""Password policy (docs/accounts.md, Password policy) and hashing, without a database."""

import bcrypt
import pytest

from app.flows.passwords import PasswordPolicy, hash_password, spend_verify_time, verify_password

POLICY = PasswordPolicy()


@pytest.mark.parametrize(
    "password, rule",
    [
        ("Short-1a!", "at least 12 characters"),
        ("no-upper-case-42!", "uppercase"),
        ("NO-LOWER-CASE-42!", "lowercase"),
        ("No-Numbers-Here!", "number"),
        ("NoSymbolsHere42", "symbol"),
        ("Has Spaces-42 Inside!", "spaces"),
        ("Tab\tInside-Password42!", "spaces"),
        ("x" * 125 + "A1!a", "at most 128"),
        ("Nul\x00Inside-Password42!", "control characters"),
        ("Broken\ufffdBytes-42!", "could not be read"),
        ("Password123!", "too well known"),
        ("P@ssw0rd1234", "too well known"),
    ],
)
def test_each_rule_names_itself(password, rule):
    problems = POLICY.problems(password)
    assert any(rule in problem for problem in problems), problems


def test_a_good_password_passes():
    assert POLICY.problems("Blue-Harbour-42!") == []


def test_exactly_128_characters_of_any_script_is_allowed():
    password = "Ж" * 60 + "ж" * 60 + "12345!Aa"
    assert len(password) == 128
    assert POLICY.problems(password) == []


def test_character_classes_can_be_switched_off_for_nist():
    nist = PasswordPolicy(require_character_classes=False)
    assert nist.problems("correct horse battery") == ["The password must not contain spaces."]
    assert nist.problems("correcthorsebatterystaple") == ["This password is too well known. Please choose another."]
    assert nist.problems("mountainlakesunrise") == []
    assert "upper/lowercase" not in nist.text


def test_policy_text_is_the_seed_wording():
    assert POLICY.text == (
        "The password must be at least 12 characters long, no spaces, "
        "include upper/lowercase letters, numbers and symbols."
    )


def test_long_multibyte_passwords_are_not_truncated():
    # 128 four-byte characters = 512 bytes: bcrypt alone would read only the first 72 bytes.
    base = "😀" * 127
    hashed = hash_password(base + "A", rounds=4)
    assert verify_password(base + "A", hashed)
    assert not verify_password(base + "B", hashed)


def test_passwords_sharing_the_first_72_bytes_differ():
    prefix = "A" * 72
    hashed = hash_password(prefix + "-one", rounds=4)
    assert not verify_password(prefix + "-two", hashed)


def test_hash_is_bcrypt_at_the_configured_cost():
    hashed = hash_password("Blue-Harbour-42!", rounds=5)
    assert hashed.startswith("$2b$05$")


def test_malformed_stored_hash_is_a_failed_check_not_a_crash():
    assert verify_password("anything", "not-a-bcrypt-hash") is False


def test_unknown_address_still_costs_a_bcrypt_check(monkeypatch):
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: calls.append(1) or real(*a))
    spend_verify_time("whatever", rounds=4)
    assert calls == [1]
