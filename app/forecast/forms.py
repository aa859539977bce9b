from django import forms

from forecast.models import Location, PredictionType


class PlaceSearchForm(forms.Form):
    query = forms.CharField(label="Place name", max_length=100, min_length=2,
                            widget=forms.TextInput(attrs={"placeholder": "e.g. Berlin"}))


class LocationForm(forms.ModelForm):
    """A place by coordinates (typed in, or chosen among the geocoding matches)."""

    class Meta:
        model = Location
        fields = ("name", "country", "latitude", "longitude")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        cleaned = super().clean()
        lat, lon = cleaned.get("latitude"), cleaned.get("longitude")
        if lat is not None and lon is not None:
            if Location.owned_by(self.user).filter(latitude=round(lat, 5), longitude=round(lon, 5)).exists():
                raise forms.ValidationError("You already follow a place at these coordinates.")
        return cleaned

    def save(self, commit=True):
        self.instance.user = self.user
        return super().save(commit)


class HistoryFilterForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False, empty_label="All places")
    prediction_type = forms.ChoiceField(choices=[("", "Both types"), *PredictionType.choices], required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = Location.owned_by(user)
