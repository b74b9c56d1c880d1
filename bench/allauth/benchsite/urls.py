from django.http import HttpResponse
from django.urls import include, path


def healthz(request):
    # Framework baseline for the load-generator calibration (no session, no database).
    return HttpResponse(b'{"status":"ok"}', content_type="application/json")


urlpatterns = [
    path("healthz", healthz),
    path("_allauth/", include("allauth.headless.urls")),
]
