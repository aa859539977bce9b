from typing import Any

from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import forms as auth_forms

from accounts.limits import mailbox, mailbox_has_room
from accounts.models import HealthProfile


def _password_confirms(request, user, password: str) -> bool:
    """The signed-in user's password, checked as a log-in is (accounts/limits.py): wrong ones count
    against the account and client address, and a paused pair is refused even the right one."""
    return authenticate(request, username=user.get_username(), password=password) is not None


class RegistrationForm(forms.Form):
    """The first step: only the address. Whether it has an account already is told to its mailbox, never
    on the page (accounts/registration.py)."""

    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="We send a link there to finish creating your account. Alerts and password-reset links go there too.",
    )

    def clean_email(self):
        return mailbox(self.cleaned_data["email"])


class FinishRegistrationForm(auth_forms.UserCreationForm):
    """The second step, opened from the e-mailed link: user name and password for the confirmed address."""

    # django-stubs leaves out BaseUserCreationForm.Meta, which Django documents for subclassing.
    class Meta(auth_forms.UserCreationForm.Meta):  # type: ignore[name-defined]
        model = get_user_model()
        fields = ("username",)

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.email = email  # saved with the account, and compared with the password by its validators


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset by e-mail; each mailbox gets at most its share of these mails, whoever asks
    (accounts/limits.py). The form also sends "you already have an account" (accounts/registration.py)."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.request = kwargs["request"]  # for get_users, which counts per mailbox; every caller passes it
        super().save(*args, **kwargs)

    def get_users(self, email):
        return (user for user in super().get_users(email) if mailbox_has_room(self.request, user.email))


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        if not _password_confirms(self.request, self.user, old_password):
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


# The profile page shows one fieldset per group; the form has exactly these fields.
PROFILE_GROUPS = [
    (
        "How weather affects you",
        (
            "sensitivity_overall",
            "sensitivity_pressure",
            "sensitivity_low_pressure",
            "sensitivity_temperature",
            "sensitivity_humidity",
            "sensitivity_precipitation",
            "sensitivity_cloud_cover",
        ),
    ),
    ("Alert e-mails", ("email_migraine", "email_sinusitis", "daily_notification_limit", "notification_min_gap_hours")),
    ("Which hours a prediction covers", ("window_start_hours", "window_end_hours")),
]


class HealthProfileForm(forms.ModelForm):
    class Meta:
        model = HealthProfile
        fields = [name for _, names in PROFILE_GROUPS for name in names]

    def groups(self):
        """[(heading, [bound fields])] in the order of PROFILE_GROUPS."""
        return [(heading, [self[name] for name in names]) for heading, names in PROFILE_GROUPS]


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not _password_confirms(self.request, self.request.user, password):
            raise forms.ValidationError("That is not your password; nothing was deleted.")
        return password
