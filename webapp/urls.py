from django.contrib import admin
from django.urls import include, path

from webapp.security import LoginView, ThrottledAdminAuthenticationForm

admin.site.login_form = ThrottledAdminAuthenticationForm  # sign-ins throttled there too

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(), name="login"),  # throttled; before auth.urls
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("webapp.chat.urls")),
]
