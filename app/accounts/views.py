from datetime import timedelta

import sentry_sdk
from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.db import transaction
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_http_methods

from accounts.export import user_data_json
from accounts.forms import (
    AccountDeleteForm,
    FinishRegistrationForm,
    HealthProfileForm,
    PasswordChangeForm,
    PasswordResetForm,
    RegistrationForm,
)
from accounts.limits import client_wait
from accounts.models import HealthProfile
from accounts.registration import confirmed_address, mail_the_address
from config.middleware import client_ip


def _too_many_emails(form, wait: int) -> None:
    form.add_error(
        None,
        "Too many e-mails were asked for from your network just now. Try again in "
        f"{timeuntil(timezone.now() + timedelta(seconds=wait))}.",
    )


def _lift_pause(request, user) -> None:
    """A new password, or a deleted account, ends the pause of this account from this client address."""
    reset_login_failures(ip=client_ip(request), username=user.get_username())


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("forecast:location-list")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = client_wait(request)
        if wait is not None:
            _too_many_emails(form, wait)
            return render(request, "accounts/register.html", {"form": form}, status=429)
        mail_the_address(request, form.cleaned_data["email"])
        return redirect("register_sent")
    return render(request, "accounts/register.html", {"form": form})


@require_http_methods(["GET", "POST"])
def register_finish(request, token):
    """The e-mailed link: user name and password for the confirmed address, then logged in."""
    email = confirmed_address(token)
    if email is None:
        return render(request, "accounts/register_finish.html", {"state": "invalid"})
    if get_user_model().objects.filter(email__iexact=email).exists():
        return render(request, "accounts/register_finish.html", {"state": "used"})
    form = FinishRegistrationForm(request.POST or None, email=email)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            HealthProfile.objects.create(user=user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        sentry_sdk.add_breadcrumb(category="user_action", message="registered", level="info")
        messages.success(request, "Welcome! Tell us what weather affects you, then add a place.")
        return redirect("profile")
    return render(request, "accounts/register_finish.html", {"state": "open", "form": form, "email": email})


def locked_out(request, response=None, credentials=None):
    """django-axes' answer to a password check while the account and client address, or the client
    address alone, are paused (accounts/limits.py)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked_out.html", {"minutes": minutes}, status=429)


@login_required
def profile(request):
    health = HealthProfile.for_user(request.user)
    form = HealthProfileForm(request.POST or None, instance=health)
    if request.method == "POST" and form.is_valid():
        form.save()
        sentry_sdk.add_breadcrumb(category="user_action", message="profile updated", level="info")
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("profile")
    success_message = "Your password was changed."

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by e-mail, counted per client address and per mailbox (accounts/limits.py)."""

    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    html_email_template_name = "accounts/email/password_reset.html"
    subject_template_name = "accounts/email/password_reset_subject.txt"

    def form_valid(self, form):
        wait = client_wait(self.request)
        if wait is not None:
            _too_many_emails(form, wait)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password through the e-mailed link also lifts the pause of the account from
    the address it is set from."""

    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        _lift_pause(self.request, form.user)
        return response


@login_required
def export(request):
    """All of the user's data as one JSON file to download."""
    sentry_sdk.add_breadcrumb(category="user_action", message="data exported", level="info")
    response = StreamingHttpResponse(user_data_json(request.user), content_type="application/json; charset=utf-8")
    filename = f"migraine-forecast-{request.user.get_username()}-{timezone.now():%Y%m%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    """Deletes the account and everything stored with it, once the password confirms it."""
    form = AccountDeleteForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        user = request.user
        with transaction.atomic():
            # Places, forecasts, predictions, reports, e-mails sent and the profile go with the user (CASCADE).
            user.delete()
            _lift_pause(request, user)
        logout(request)
        messages.success(request, "Your account and all its data were deleted.")
        return redirect("login")
    return render(request, "accounts/delete.html", {"form": form})
