from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import HealthProfile


class RegistrationForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="Alerts and password-reset links are sent here.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


# The profile page shows one fieldset per group; the form has exactly these fields.
PROFILE_GROUPS = [
    ("How weather affects you", ("sensitivity_overall", "sensitivity_pressure", "sensitivity_low_pressure",
                                 "sensitivity_temperature", "sensitivity_humidity", "sensitivity_precipitation",
                                 "sensitivity_cloud_cover")),
    ("Alert e-mails",
     ("email_migraine", "email_sinusitis", "daily_notification_limit", "notification_min_gap_hours")),
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
    password = forms.CharField(label="Your password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password; nothing was deleted.")
        return password
