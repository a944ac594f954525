from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """No models, no URLs: management commands and the code they run (docs/architecture.md)."""

    name = "devtools"
    verbose_name = "Developer tools"
