"""A real SMTP server (aiosmtpd) on loopback that keeps messages, and can refuse them."""

from __future__ import annotations

import email
from email.message import Message

from aiosmtpd.controller import Controller

from tests.harness.processes import ReservedPort


class Handler:
    def __init__(self):
        self.messages: list[Message] = []
        self.refuse_with: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.original_content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class SMTPServer:
    def __init__(self):
        """Only reserves the port: `start` runs the server."""
        self.handler = Handler()
        self.reserved = ReservedPort()
        self.port = self.reserved.number
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages

    def refuse(self, reply: str = "451 4.3.0 Mail server temporarily unavailable") -> None:
        self.handler.refuse_with = reply

    def reset(self):
        self.handler.messages.clear()
        self.handler.refuse_with = None

    def start(self):
        self.reserved.release()
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
