"""The portal's URLs plus one view that fails, to see the 500 page."""

from django.urls import path

from config.urls import urlpatterns as portal_urlpatterns


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken), *portal_urlpatterns]
