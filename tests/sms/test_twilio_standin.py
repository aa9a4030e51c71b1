"""The Twilio stand-in answers like Twilio: checked with the real twilio client and plain HTTP."""

from __future__ import annotations

from base64 import b64encode

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.delivery.senders.sms import RebasedTwilioHttpClient
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandin

TO = "+14155550123"


async def test_the_real_client_creates_a_message(twilio: TwilioStandin) -> None:
    http = RebasedTwilioHttpClient(twilio.base_url)
    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        message = await client.messages.create_async(to=TO, from_=FROM_NUMBER, body="hello")
    finally:
        await http.close()
    assert message.sid.startswith("SM") and message.status == "queued"
    assert message.to == TO and message.num_segments == "1" and message.error_code is None
    assert [m.body for m in twilio.messages] == ["hello"]


@pytest.mark.parametrize(
    ("kwargs", "code", "status"),
    [
        ({"to": TO, "body": "hi"}, 21603, 400),  # neither From nor MessagingServiceSid
        ({"to": TO, "from_": FROM_NUMBER, "body": ""}, 21602, 400),
        ({"to": "4155550123", "from_": FROM_NUMBER, "body": "hi"}, 21211, 400),
        ({"to": TO, "from_": FROM_NUMBER, "body": "x" * 1601}, 21617, 400),
    ],
)
async def test_bad_requests_get_twilios_errors(
    twilio: TwilioStandin, kwargs: dict[str, str], code: int, status: int
) -> None:
    http = RebasedTwilioHttpClient(twilio.base_url)
    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(**kwargs)
    finally:
        await http.close()
    assert (caught.value.code, caught.value.status) == (code, status)
    assert twilio.messages == []


async def test_wrong_credentials_get_401_in_twilios_shape(twilio: TwilioStandin) -> None:
    url = f"{twilio.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    wrong = "Basic " + b64encode(f"{ACCOUNT_SID}:nope".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data={"To": TO, "From": FROM_NUMBER, "Body": "hi"},
            headers={"Authorization": wrong},
        ) as response,
    ):
        assert response.status == 401
        assert await response.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
    assert [r.authorized for r in twilio.requests] == [False]
