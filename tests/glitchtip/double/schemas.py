"""The request bodies of the endpoints the bundle calls, as pydantic models like GlitchTip's django-ninja
schemas: the same fields give its 422 errors word for word, as recorded (pydantic's messages and locations,
under `["body", "payload", ...]`); a check inside a schema answers with a bare string."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, RootModel, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from tests.harness.http_fake import Request

from . import wire


class Schema(BaseModel):
    # GlitchTip's CamelSchema (its alias generator also makes `_id` `ID`, which no field here ends in).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def parse(schema: type[BaseModel], request: Request) -> BaseModel:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise wire.detail(400, "Cannot parse request body") from None
    try:
        return schema.model_validate(body)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        raise wire.detail(
            422, [{**problem, "loc": ["body", "payload", *problem["loc"]]} for problem in problems]
        ) from None


class TokenIn(Schema):
    label: str = ""
    scopes: list[str]


class OrganizationIn(Schema):
    name: str


class TeamIn(Schema):
    slug: str = Field(pattern=r"^[-a-zA-Z0-9_]+$", max_length=50)


class ProjectIn(Schema):
    name: str
    slug: str | None = None
    platform: str | None = None


class ReleaseIn(Schema):
    version: str
    date_released: datetime | None = None  # left out: now


class MemberIn(Schema):
    email: str
    org_role: Literal["member", "admin", "manager", "owner"]
    team_roles: list[dict] = []


AlertSettingIn = RootModel[dict[str, int]]  # {project_id: status}


class MonitorIn(Schema):
    # Declared first, so a 422 lists the missing ones in GlitchTip's order; each must be sent, even empty.
    expected_body: str
    expected_status: int | None
    timeout: Annotated[int, Field(ge=1, le=60)] | None
    project: str | None = None
    monitor_type: Literal["Ping", "GET", "POST", "TCP Port", "SSL", "Heartbeat"] = "Ping"
    name: str
    url: str = ""
    interval: int = 60

    @model_validator(mode="after")
    def _checks(self):
        http = self.monitor_type in ("Ping", "GET", "POST")
        if self.url == "" and (http or self.monitor_type == "SSL"):
            raise wire.detail(422, f"URL is required for {self.monitor_type}")
        if http:
            try:
                URLValidator()(self.url)  # Django's, as GlitchTip: no single-label host such as "nginx"
            except DjangoValidationError:
                raise wire.detail(422, "Invalid Url") from None
        if self.expected_status is None and self.monitor_type in ("GET", "POST"):
            raise wire.detail(422, f"Expected status is required for {self.monitor_type}")
        return self


class RecipientType(StrEnum):
    EMAIL = "email"
    GENERAL_WEBHOOK = "webhook"
    DISCORD = "discord"
    GOOGLE_CHAT = "googlechat"

    def __repr__(self) -> str:  # as Django's TextChoices, which pydantic quotes in errors
        return f"RecipientType.{self.name}"


class EmailRecipientIn(Schema):
    """An e-mail recipient takes no address: GlitchTip mails the project's team members."""

    recipient_type: Literal[RecipientType.EMAIL]
    url: HttpUrl | Literal[""] | None = ""


class WebhookRecipientIn(Schema):
    recipient_type: Literal[RecipientType.DISCORD, RecipientType.GENERAL_WEBHOOK, RecipientType.GOOGLE_CHAT]
    url: HttpUrl


class AlertIn(Schema):
    name: str | None = None
    timespan_minutes: int | None = None
    quantity: int | None = None
    uptime: bool = False
    alert_recipients: list[Annotated[EmailRecipientIn | WebhookRecipientIn, Field(discriminator="recipient_type")]] = []

    def recipients(self) -> list[tuple[str, str]]:
        """(type, url) of each recipient, the url as pydantic gives it back (a bare host gets a "/")."""
        return [(recipient.recipient_type.value, str(recipient.url or "")) for recipient in self.alert_recipients]
