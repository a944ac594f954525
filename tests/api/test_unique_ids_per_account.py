"""unique_ids are scoped per client account, as SerwerSMS scopes them: the same id at another
account (of another partner, or of the same one) is another message, and no answer, conflict or
refusal says anything about ids at another account."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Message
from partner_api.keys import create_api_key
from tests.api.conftest import post
from tests.factories import ClientAccountFactory, MessageFactory

pytestmark = pytest.mark.django_db
SEND = "/api/v1/messages"
REPORT = "/api/v1/messages/reported"


def _sends(sim) -> list[dict]:
    return [r for r in sim.requests() if r["action"] == "messages/send_sms"]


def test_a_conflict_names_only_this_accounts_own_message(sim, alpha, beta):
    """The same id at beta with other details: no conflict there; at alpha, the conflict speaks
    of alpha's own message only."""
    post(
        alpha.client,
        SEND,
        {"recipients": [{"phone": "+48500600700", "unique_id": "u100"}], "text": "A"},
    )
    other = {"recipients": [{"phone": "+48500600799", "unique_id": "u100"}], "text": "B"}
    assert post(beta.client, SEND, other).status_code == 202
    response = post(alpha.client, SEND, other)
    assert response.status_code == 409
    (error,) = response.json()["errors"]
    assert error["field"] == "recipients[0].unique_id"
    assert "different phone, text" in error["message"]
    assert "account" not in error["message"]
    assert Message.objects.filter(unique_id="u100").count() == 2


def test_two_accounts_of_one_partner_have_their_own_ids(sim, alpha):
    second = ClientAccountFactory(partner=alpha.partner, name="alpha-second", api_token="alpha-2")
    sim.register_account(token="alpha-2")
    _key, raw = create_api_key(account=second, name="second shop", actor="test")
    body = {"recipients": [{"phone": "+48500600700", "unique_id": "same7"}], "text": "Hi"}
    assert post(alpha.client, SEND, body).status_code == 202
    response = alpha.client.post(
        SEND, body, content_type="application/json", headers={"authorization": f"Bearer {raw}"}
    )
    assert response.status_code == 202
    assert set(Message.objects.filter(unique_id="same7").values_list("account", flat=True)) == {
        alpha.account.pk,
        second.pk,
    }


def test_the_same_id_again_at_the_same_account_still_sends_nothing_new(sim, alpha, beta):
    body = {"recipients": [{"phone": "+48500600700", "unique_id": "again5"}], "text": "Hi"}
    post(beta.client, SEND, body)
    first = post(alpha.client, SEND, body).json()
    again = post(alpha.client, SEND, body).json()
    assert first["messages"][0]["id"] == again["messages"][0]["id"]
    assert Message.objects.filter(account=alpha.account, unique_id="again5").count() == 1


def _reported(side, serwersms_id: str, unique_id: str) -> dict:
    sent = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    item = {"serwersms_id": serwersms_id, "phone": "+48500600700", "ic": side.partner.ic}
    return {"messages": [{**item, "sent_at": sent, "unique_id": unique_id}]}


def test_a_reported_unique_id_used_at_another_account_is_taken(alpha, beta):
    MessageFactory(account=alpha.account, unique_id="rep9")
    result = post(beta.client, REPORT, _reported(beta, "b1", "rep9")).json()
    assert result["created"] == 1 and result["refused"] == 0
    # At the account that already has it, the id is refused.
    mine = post(alpha.client, REPORT, _reported(alpha, "a1", "rep9")).json()
    assert mine["results"][0]["outcome"] == "refused"
    assert mine["results"][0]["errors"][0]["code"] == "conflict"


def test_the_database_holds_an_id_once_per_account(alpha, beta):
    MessageFactory(account=alpha.account, unique_id="db1")
    MessageFactory(account=beta.account, unique_id="db1")  # another account: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(account=alpha.account, unique_id="db1")
