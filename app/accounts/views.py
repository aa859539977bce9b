import sentry_sdk
from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.db import transaction
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from accounts.export import user_data_json
from accounts.forms import AccountDeleteForm, HealthProfileForm, RegistrationForm
from accounts.models import HealthProfile


def register(request):
    if request.user.is_authenticated:
        return redirect("forecast:location-list")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            HealthProfile.objects.create(user=user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        sentry_sdk.add_breadcrumb(category="user_action", message="registered", level="info")
        messages.success(request, "Welcome! Tell us what weather affects you, then add a place.")
        return redirect("profile")
    return render(request, "accounts/register.html", {"form": form})


def locked_out(request, response=None, credentials=None):
    """django-axes' answer to a login while the account or the client address is locked out."""
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
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("profile")
    success_message = "Your password was changed."


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by e-mail, with at most RATELIMIT_PASSWORD_RESET e-mails per address and per client."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    html_email_template_name = "accounts/email/password_reset.html"
    subject_template_name = "accounts/email/password_reset_subject.txt"

    def form_valid(self, form):
        limited = [
            is_ratelimited(self.request, group="password-reset", key=key, rate=settings.RATELIMIT_PASSWORD_RESET,
                           increment=True)
            for key in ("ip", "post:email")
        ]
        if any(limited):
            form.add_error(None, "Too many reset e-mails were asked for just now. Wait an hour, then try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password through the e-mailed link also lifts a lock-out of the account."""

    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        reset_login_failures(username=form.user.get_username())
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
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        with transaction.atomic():
            # Places, forecasts, predictions, reports, e-mails sent and the profile go with the user (CASCADE).
            user.delete()
            reset_login_failures(username=user.get_username())
        logout(request)
        messages.success(request, "Your account and all its data were deleted.")
        return redirect("login")
    return render(request, "accounts/delete.html", {"form": form})
