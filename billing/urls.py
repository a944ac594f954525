"""URLs of the billing app (the SerwerSMS callback endpoint)."""

urlpatterns: list = []
