"""bin/demo: restarts at once, prints every login with its role in the console's language."""

from __future__ import annotations

import io
import socket

import pytest
from django.core.management import call_command

from billing.models import StaffRole
from devtools.demo import DEMO_USERS
from devtools.management.commands.demo_logins import console_language
from devtools.management.commands.run_demo import port_is_free


def test_a_port_left_in_time_wait_by_a_stopped_demo_is_free():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its port sits in TIME_WAIT
    server.close()
    client.close()
    assert port_is_free("127.0.0.1", port)


def test_a_port_something_listens_on_is_not_free():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert not port_is_free("127.0.0.1", server.getsockname()[1])


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "pl_PL.UTF-8"}, "pl"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "pl_PL.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANGUAGE": "pl:en"}, "pl"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_console_language(environ, expected):
    assert console_language(environ) == expected


def test_both_demo_partners_have_both_roles():
    roles = {(partner, role) for _u, _p, partner, role in DEMO_USERS}
    for partner in {partner for _u, _p, partner, _r in DEMO_USERS}:
        assert {(partner, StaffRole.VIEWER), (partner, StaffRole.BILLING_MANAGER)} <= roles


@pytest.mark.parametrize(
    ("language", "viewer", "manager"),
    [("pl", "podgląd", "rozliczenia"), ("en", "viewer", "billing manager")],
)
def test_demo_logins_print_each_role_in_the_language(language, viewer, manager):
    out = io.StringIO()
    call_command("demo_logins", language=language, stdout=out)
    lines = out.getvalue().splitlines()
    for username, password, _partner, role in DEMO_USERS:
        line = next(line for line in lines if line.strip().startswith(username + " "))
        assert password in line
        assert line.rstrip().endswith(viewer if role == StaffRole.VIEWER else manager)
