from django.contrib import admin

from forecast.models import ComparisonReport, Location, Notification, Prediction, WeatherForecast


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "latitude", "longitude", "timezone", "user", "created_at")
    list_filter = ("country",)
    search_fields = ("name", "user__username")
    list_select_related = ("user",)


@admin.register(WeatherForecast)
class WeatherForecastAdmin(admin.ModelAdmin):
    list_display = ("location", "target_time", "temperature", "humidity", "pressure_msl", "precipitation", "fetched_at")
    list_filter = ("location",)
    date_hierarchy = "target_time"
    list_select_related = ("location",)


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("location", "prediction_type", "risk_level", "source", "confidence", "window_start", "notified_at")
    list_filter = ("prediction_type", "risk_level", "source")
    date_hierarchy = "window_start"
    list_select_related = ("location",)
    search_fields = ("location__name", "location__user__username")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("subject", "user", "sent_at")
    date_hierarchy = "sent_at"
    list_select_related = ("user",)
    filter_horizontal = ("predictions",)


@admin.register(ComparisonReport)
class ComparisonReportAdmin(admin.ModelAdmin):
    list_display = (
        "location",
        "period_start",
        "period_end",
        "hours_compared",
        "mean_abs_temperature_diff",
        "max_abs_temperature_diff",
    )
    list_select_related = ("location",)
    date_hierarchy = "period_end"
