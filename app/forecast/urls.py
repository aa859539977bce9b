from django.urls import path

from forecast import views

app_name = "forecast"

urlpatterns = [
    path("", views.location_list, name="location-list"),
    path("locations/add/", views.location_add, name="location-add"),
    path("locations/<int:pk>/", views.location_detail, name="location-detail"),
    path("locations/<int:pk>/refresh/", views.refresh, name="location-refresh"),
    path("locations/<int:pk>/delete/", views.location_delete, name="location-delete"),
    path("history/", views.history, name="history"),
    path("history.csv", views.history_csv, name="history-csv"),
]
