from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import TemplateView

from accounts import views

# Django's auth views find each other by these names (password_reset_done, password_reset_confirm, ...).
urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/sent/", TemplateView.as_view(template_name="accounts/register_sent.html"), name="register_sent"),
    path("register/<str:token>/", views.register_finish, name="register_finish"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("export/", views.export, name="account-export"),
    path("delete/", views.delete_account, name="account-delete"),
]
