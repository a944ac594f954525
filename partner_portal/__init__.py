"""The partner-facing portal: pages, exports, accounts and teams (the Django project is config/)."""
