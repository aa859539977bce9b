"""Registration by e-mail: an account is made only once its address is confirmed, and the page
answers the same whether the address has an account already or not.

The first step asks for the address and mails it: when the address is new, a link that finishes
the registration (user name and password, then logged in); when it has an account, a reminder of
it with a link to log in and one to choose a new password. Both count in the mailbox's share
(accounts/limits.py). The link carries the address, signed with the secret key and dated: it
works for PASSWORD_RESET_TIMEOUT and makes one account. Nothing is stored before that, so nobody
can hold an address or a user name by starting a registration with it.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.forms import PasswordResetForm
from accounts.limits import mailbox_has_room

logger = logging.getLogger(__name__)

SALT = "accounts.registration"


def mail_the_address(request, email: str) -> None:
    """What the first step sends; the caller answers the same page whatever happened here."""
    if get_user_model().objects.filter(email__iexact=email).exists():
        # Django's reset mail, worded for this case: it holds the user name and a reset link.
        form = PasswordResetForm({"email": email})
        form.is_valid()
        form.save(
            request=request,
            use_https=request.is_secure(),
            subject_template_name="accounts/email/account_exists_subject.txt",
            email_template_name="accounts/email/account_exists.txt",
            html_email_template_name="accounts/email/account_exists.html",
        )
    elif mailbox_has_room(request, email):
        _send_link(request, email)


def _send_link(request, email: str) -> None:
    context = {
        "protocol": "https" if request.is_secure() else "http",
        "domain": request.get_host(),
        "token": signing.dumps(email, salt=SALT),
        "email": email,
    }
    subject = render_to_string("accounts/email/register_link_subject.txt", context).strip()
    message = EmailMultiAlternatives(subject, render_to_string("accounts/email/register_link.txt", context), to=[email])
    message.attach_alternative(render_to_string("accounts/email/register_link.html", context), "text/html")
    try:
        message.send()
    except Exception:  # reported (ERROR); the page must not tell whether a mail went out
        logger.exception("Could not send the e-mail that finishes a registration")


def confirmed_address(token: str) -> str | None:
    """The address a link was mailed to, if the link is genuine and younger than PASSWORD_RESET_TIMEOUT."""
    try:
        return signing.loads(token, salt=SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.BadSignature:  # altered, or expired (SignatureExpired)
        return None
