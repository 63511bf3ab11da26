"""Password policy (docs/accounts.md, Password policy) and hashing.

bcrypt reads only 72 bytes (and bcrypt 5 raises on longer input), so every password is
pre-hashed with SHA-256 and base64-encoded (44 ASCII bytes, no NUL) before bcrypt sees it:
a 128-character password of 4-byte characters works, and nothing is silently truncated.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import bcrypt
from flask_babel import gettext as _


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("app").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 128
    require_character_classes: bool = True
    reject_common: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PasswordPolicy:
        return cls(
            min_length=config["PASSWORD_MIN_LENGTH"],
            max_length=config["PASSWORD_MAX_LENGTH"],
            require_character_classes=config["PASSWORD_REQUIRE_CHARACTER_CLASSES"],
            reject_common=config["PASSWORD_REJECT_COMMON"],
        )

    @property
    def text(self) -> str:
        """The policy in one sentence, in the current language (a form field's hint)."""
        if self.require_character_classes:
            return str(
                _(
                    "The password must be at least %(count)s characters long, no spaces, "
                    "include upper/lowercase letters, numbers and symbols.",
                    count=self.min_length,
                )
            )
        return str(_("The password must be at least %(count)s characters long, with no spaces.", count=self.min_length))

    def problems(self, password: str) -> list[str]:
        """Every rule the password breaks, as sentences for the form; empty when it is fine."""
        if any(unicodedata.category(ch) in ("Cc", "Cs") and not ch.isspace() for ch in password):
            return [_("The password contains control characters (such as NUL) that cannot be used.")]
        if "\ufffd" in password:
            return [_("The password contains characters that could not be read. Please type it again.")]
        found = []
        if any(ch.isspace() for ch in password):
            found.append(_("The password must not contain spaces."))
        if len(password) < self.min_length:
            found.append(_("The password must be at least %(count)s characters long.", count=self.min_length))
        if len(password) > self.max_length:
            found.append(_("The password must be at most %(count)s characters long.", count=self.max_length))
        if self.require_character_classes:
            if not any(ch.islower() for ch in password):
                found.append(_("The password must include a lowercase letter."))
            if not any(ch.isupper() for ch in password):
                found.append(_("The password must include an uppercase letter."))
            if not any(unicodedata.category(ch) == "Nd" for ch in password):
                found.append(_("The password must include a number."))
            if not any(_is_symbol(ch) for ch in password):
                found.append(_("The password must include a symbol, such as ! ? # or %."))
        if self.reject_common and password.lower() in common_passwords():
            found.append(_("This password is too well known. Please choose another."))
        return found


def _is_symbol(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch)[0] not in ("L", "N", "C")


def _prehash(password: str) -> bytes:
    digest = hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest)


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash is a failed check, not a crash
        return False


@lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> str:
    return hash_password("not-a-real-password", rounds)


def spend_verify_time(password: str, rounds: int) -> None:
    """Cost an unknown address the same bcrypt work as a known one (no timing oracle)."""
    verify_password(password, _dummy_hash(rounds))
