import sentry_sdk
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render

from accounts.forms import HealthProfileForm, RegistrationForm
from accounts.models import HealthProfile


def register(request):
    if request.user.is_authenticated:
        return redirect("forecast:location-list")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            HealthProfile.objects.create(user=user)
        login(request, user)
        sentry_sdk.add_breadcrumb(category="user_action", message="registered", level="info")
        messages.success(request, "Welcome! Set your sensitivities, then add a location.")
        return redirect("profile")
    return render(request, "accounts/register.html", {"form": form})


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
