from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import HealthProfile


class RegistrationForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="Alerts are sent here.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class HealthProfileForm(forms.ModelForm):
    class Meta:
        model = HealthProfile
        exclude = ("user", "updated_at")
