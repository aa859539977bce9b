import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import cast

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator

from forecast.models import Location, PredictionType

# One number as people paste it: a sign (also the typographic minus), a decimal point or comma.
NUMBER = r"[+\-−]?\d+(?:[.,]\d+)?"
# Both coordinates pasted into the latitude box: "37.7749295, -122.4194155", "52,52 13,41", "48.1;11.5".
PAIR = re.compile(rf"^\s*({NUMBER})\s*(?:;\s*|,\s+|\s+)({NUMBER})\s*$")
# ...or with a bare comma between two numbers that use decimal points: "52.52,13.41".
DOTTED_PAIR = re.compile(r"^\s*([+\-−]?\d+\.\d+),([+\-−]?\d+\.\d+)\s*$")
PLACES = Decimal("0.00001")  # the model keeps 5 decimals: about a metre


class CoordinateField(forms.Field):
    """A latitude or longitude as people paste it, rounded to the 5 decimals the model keeps.

    A text box, not <input type="number">: the browser's step rule refused 37.7749295, and
    a decimal comma ("1,5") is read as a decimal point.
    """

    widget = forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})
    default_error_messages = {"invalid": "Enter a number such as 52.52437 (a decimal comma is fine too)."}

    def __init__(self, *, limit: int, **kwargs):
        super().__init__(**kwargs)
        self.validators += [MinValueValidator(-limit), MaxValueValidator(limit)]

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().replace("−", "-").replace("°", "").replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not number.is_finite():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number.quantize(PLACES, rounding=ROUND_HALF_UP)


def split_pasted_pair(data):
    """Both coordinates pasted into the latitude box (longitude left empty) go to their own fields."""
    if data is None or (data.get("longitude") or "").strip():
        return data
    match = PAIR.match(data.get("latitude") or "") or DOTTED_PAIR.match(data.get("latitude") or "")
    if not match:
        return data
    data = data.copy()
    data["latitude"], data["longitude"] = match.groups()
    return data


class PlaceSearchForm(forms.Form):
    query = forms.CharField(
        label="Place name", max_length=100, min_length=2, widget=forms.TextInput(attrs={"placeholder": "e.g. Berlin"})
    )


class LocationForm(forms.ModelForm):
    """A place by coordinates (typed in, or chosen among the geocoding matches)."""

    latitude = CoordinateField(
        limit=90,
        label="Latitude",
        help_text="From −90 (south) to 90 (north), e.g. 52.52437. "
        "You may paste both numbers here, e.g. 37.7749295, -122.4194155.",
    )
    # Not required in the browser, so that both numbers may be pasted into the latitude box; clean() checks it.
    longitude = CoordinateField(
        limit=180, label="Longitude", required=False, help_text="From −180 (west) to 180 (east), e.g. 13.41053."
    )

    class Meta:
        model = Location
        fields = ("name", "country", "latitude", "longitude", "timezone")
        labels = {"name": "Name", "country": "Country (optional)"}
        widgets = {"timezone": forms.HiddenInput}

    def __init__(self, data=None, *args, user, **kwargs):
        super().__init__(split_pasted_pair(data), *args, **kwargs)
        self.user = user

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        places = Location.owned_by(self.user)
        if places.count() >= settings.MAX_LOCATIONS_PER_USER:
            raise forms.ValidationError(
                f"You follow {settings.MAX_LOCATIONS_PER_USER} places, the most an account can have. "
                "Delete one to add another.",
                code="too_many_places",
            )
        lat, lon = cleaned.get("latitude"), cleaned.get("longitude")
        if lon is None and "longitude" not in self.errors:
            self.add_error("longitude", "Enter the longitude too, or paste both numbers into the latitude box.")
        if lat is not None and lon is not None and places.filter(latitude=lat, longitude=lon).exists():
            raise forms.ValidationError("You already follow a place at these coordinates.")
        return cleaned

    def save(self, commit=True):
        self.instance.user = self.user
        return super().save(commit)


class HistoryFilterForm(forms.Form):
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(),
        required=False,
        empty_label="All places",
        label="Place",
        error_messages={"invalid_choice": "That place is not one of yours (it may have been deleted)."},
    )
    prediction_type = forms.ChoiceField(
        choices=[("", "Both conditions"), *PredictionType.choices], required=False, label="Condition"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["location"]).queryset = Location.owned_by(user)
