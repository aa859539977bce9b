"""mailpit's search API (`GET /api/v1/search?query=`) on loopback, for `scripts/smoke-test --alerts`.

The messages it holds are the ones a test gives it (`deliver`), or those `mail_for` makes up when
a search comes in (so a test can stand in for GlitchTip's worker, which mails an alert only after
it has seen the issue). Answers have mailpit's shape: {"messages": [{"ID", "Subject", "To": [...]}]}.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.harness.http_fake import FakeHTTPServer, Request, Response


class MailpitFake(FakeHTTPServer):
    name = "mailpit"

    def __init__(self, mail_for: Callable[[str], dict | None] | None = None):
        super().__init__()
        self.messages: list[dict] = []
        self.mail_for = mail_for

    def deliver(self, subject: str, to: list[str], text: str = "") -> None:
        self.messages.insert(
            0,
            {
                "ID": str(len(self.messages) + 1),
                "Subject": subject,
                "Snippet": text,
                "To": [{"Name": "", "Address": address} for address in to],
            },
        )

    def route(self, request: Request) -> Response:
        if request.path != "/api/v1/search":
            return Response(404, "not found")
        query = request.param("query", "") or ""
        if self.mail_for and (made := self.mail_for(query)):
            self.deliver(**made)
        found = [m for m in self.messages if query.lower() in (m["Subject"] + " " + m["Snippet"]).lower()]
        return Response(
            200,
            {
                "total": len(self.messages),
                "unread": 0,
                "count": len(found),
                "messages_count": len(found),
                "start": 0,
                "tags": [],
                "messages": found,
            },
        )
