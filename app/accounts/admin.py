from django.contrib import admin

from accounts.models import HealthProfile


@admin.register(HealthProfile)
class HealthProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "sensitivity_overall", "email_migraine", "email_sinusitis", "daily_notification_limit")
    search_fields = ("user__username",)
    list_select_related = ("user",)
