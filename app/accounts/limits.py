"""What a stranger may make the app do to someone's account: guess its password, mail its owner.

Wrong passwords (the log-in, /admin/login/, and the password the delete-account and
change-password forms ask for, all checked through django.contrib.auth.authenticate):
- django-axes pauses the pair of account and client address after LOGIN_FAILURE_LIMIT of them.
  A stranger's guesses pause the stranger's address only: the owner logs in from hers. Nothing
  ever pauses an account for every address, which would hand the stranger a lock-out.
- AddressFailureBackend pauses a client address that got LOGIN_ADDRESS_FAILURE_LIMIT wrong
  passwords, for any accounts, within LOGIN_LOCKOUT_MINUTES: many accounts guessed from one place.

E-mails with a link into an account (a password reset, finishing a registration, "you already
have an account") are counted per client address and per mailbox, RATELIMIT_PASSWORD_RESET each:
- over the client address's count the answer is 429: the stranger's own address is spent;
- over the mailbox's count the answer is the same page as always, and no mail goes out. Each of
  those mails holds a link that works for PASSWORD_RESET_TIMEOUT, longer than the count's period
  (settings refuse a longer one), so when a stranger has spent a mailbox's share, its owner's
  inbox holds a working way in from the last hour. A stranger can neither flood a mailbox nor
  take its owner's way out.
A mailbox is its address lower-cased, the whole of it: the local part is case-sensitive by the
letter of RFC 5321, but no mainstream provider treats it so and users expect Jane@ and jane@ to
be one address. Sub-addresses (jane+x@) and dots stay distinct: that is each provider's own rule,
and only an account's own address (matched case-insensitively) gets mail anyway.

Counts live in the "limits" cache (config/cache.py): with Redis away they fail open.
"""

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django_ratelimit.core import get_usage

ADDRESS_FAILURES = "login-failures-per-address"


def _address_failure_rate() -> str:
    return f"{settings.LOGIN_ADDRESS_FAILURE_LIMIT}/{settings.LOGIN_LOCKOUT_MINUTES}m"


@receiver(user_login_failed)
def count_address_failure(sender, credentials, request=None, **kwargs):
    if request is not None:
        get_usage(request, group=ADDRESS_FAILURES, key="ip", rate=_address_failure_rate(), increment=True)


class AddressFailureBackend:
    """Refuses every password check from a client address with too many wrong ones just now.

    First in AUTHENTICATION_BACKENDS. Marking the request as django-axes does makes its middleware
    answer with the lock-out page (429), as for a paused account."""

    def authenticate(self, request, **credentials):
        if request is None:
            return None
        usage = get_usage(request, group=ADDRESS_FAILURES, key="ip", rate=_address_failure_rate())
        if usage and usage["count"] >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            request.axes_locked_out = True
            raise PermissionDenied("too many wrong passwords from this client address")
        return None


def mailbox(address: str) -> str:
    return address.strip().lower()


def client_wait(request) -> int | None:
    """Counts one more account e-mail asked for from this client address; the seconds to wait when over."""
    usage = get_usage(
        request, group="account-mail-per-client", key="ip", rate=settings.RATELIMIT_PASSWORD_RESET, increment=True
    )
    return usage["time_left"] if usage and usage["should_limit"] else None


def mailbox_has_room(request, address: str) -> bool:
    """Counts one more account e-mail to `address`'s mailbox; False when it got its share already."""
    usage = get_usage(
        request,
        group="account-mail-per-mailbox",
        key=lambda group, request: mailbox(address),
        rate=settings.RATELIMIT_PASSWORD_RESET,
        increment=True,
    )
    return not (usage and usage["should_limit"])
