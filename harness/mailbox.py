"""A real SMTP server (aiosmtpd) on a local port, and what it received."""

from __future__ import annotations

import email
import email.policy
import itertools
import re
import socket
import threading
import time

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """aiosmtpd handler that keeps every message, parsed, for the tests to read."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[email.message.EmailMessage] = []
        self.delay = delay
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message.envelope = envelope  # the raw bytes (content) and what the client said (mail_options, rcpt_tos)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.to(address)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no mail #{count} to {address} within {timeout}s; got {len(self.to(address))}"
                    )
                self._changed.wait(remaining)
            return self.to(address)

    def code_after(self, address: str, seen: int, timeout: float = 15.0) -> str:
        """The code in the first mail to ``address`` that carries one, past its first ``seen`` mails
        (the outbox keeps no code once a mail is sent: the SMTP server is where to read it)."""
        for count in itertools.count(seen + 1):
            match = CODE_RE.search(text_of(self.wait_for(address, count, timeout)[count - 1]))
            if match:
                return match.group(1)


CODE_RE = re.compile(r"^\s*(\d{6})\s*$", re.M)


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def code_in(message: email.message.EmailMessage) -> str:
    match = CODE_RE.search(text_of(message))
    assert match, f"no code in mail: {text_of(message)!r}"
    return match.group(1)


def raw_header(message: email.message.EmailMessage, name: str) -> bytes:
    """A header's line(s) exactly as they came over the wire, unfolding and decoding nothing."""
    match = re.search(rb"^" + name.encode() + rb":.*\r?\n(?:[ \t].*\r?\n)*", message.envelope.content, re.M | re.I)
    assert match, f"no {name} header in {message.envelope.content[:2000]!r}"
    return match.group(0)


class SmtpServer:
    """aiosmtpd on a free local port; ``smtputf8`` makes it offer (and accept) SMTPUTF8."""

    def __init__(self, delay: float = 0.0, port: int | None = None, smtputf8: bool = False):
        self.mailbox = Mailbox(delay)
        self.port = port or free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
