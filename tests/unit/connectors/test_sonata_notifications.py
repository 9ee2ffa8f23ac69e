"""MEF 123 notification bodies: every valid shape accepted, every problem reported with its path.

The builders' payloads are first proven valid against the MEF OpenAPI schema itself, so the
hand-written validator is checked against the standard, not against itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.sonata.notifications import (
    EVENT_SCHEMAS,
    EVENT_TYPES,
    LISTENER_BASE_PATH,
    Notification,
    Problem,
    invalid_body_error,
    parse_notification,
    rfc3339_ms,
)
from tests.fakes.mef_payloads import EVENT_TIME_MS, dumps, mef_dir, notification, notifications

ITEM_EVENT = "productOrderItemStateChangeEvent"


def parse(body: object, endpoint: str = ITEM_EVENT) -> Notification | list[Problem]:
    raw = body if isinstance(body, bytes) else dumps(body)
    return parse_notification(raw, endpoint)


def problems_of(body: object, endpoint: str = ITEM_EVENT) -> list[str]:
    result = parse(body, endpoint)
    assert isinstance(result, list), f"accepted {body!r}"
    assert result, "an invalid body must come with at least one problem"
    return [str(p) for p in result]


# --- the spec itself ------------------------------------------------------------------------


def test_event_types_and_base_path_are_those_of_the_mef_yaml() -> None:
    spec = notifications().document
    paths = {p.removeprefix("/listener/") for p in spec["paths"]}
    assert set(EVENT_TYPES) == paths
    for path, item in spec["paths"].items():
        body = item["post"]["requestBody"]["content"]
        ref = next(iter(body.values()))["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] == EVENT_SCHEMAS[path.removeprefix("/listener/")]
    server = spec["servers"][0]["url"]
    assert server.endswith(LISTENER_BASE_PATH + "/"), server


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_builder_payloads_are_valid_mef_and_accepted(event_type: str) -> None:
    body = notification(event_type, buyer_id="dcc", seller_id="hgc")
    notifications().assert_valid(EVENT_SCHEMAS[event_type], body)
    result = parse(body, event_type)
    assert isinstance(result, Notification), result
    assert result.event_type == event_type
    assert result.event_id == "EVT-20261124-0001"
    assert result.event_time_ms == EVENT_TIME_MS
    assert result.subject_id == "PO-7001"
    assert (result.buyer_id, result.seller_id) == ("dcc", "hgc")
    assert result.schema == EVENT_SCHEMAS[event_type]


def test_item_event_fields() -> None:
    body = notification("productSpecificProductOrderItemMilestoneEvent", item_id="3")
    result = parse(body, "productSpecificProductOrderItemMilestoneEvent")
    assert isinstance(result, Notification)
    assert result.order_item_id == "3"
    assert result.milestone_name == "siteSurveyCompleted"
    assert result.href is not None and result.href.endswith("/productOrder/PO-7001")
    assert result.is_product_order_event
    order_level = parse(notification("productOrderStateChangeEvent", item_id=None))
    assert isinstance(order_level, list)  # posted to the item endpoint: wrong type
    order_level = parse(
        notification("productOrderStateChangeEvent", item_id=None), "productOrderStateChangeEvent"
    )
    assert isinstance(order_level, Notification) and order_level.order_item_id is None


def test_unknown_properties_are_ignored() -> None:
    body = notification()
    body["extension"] = {"x": 1}
    body["event"]["vendorTag"] = [1, 2]
    assert isinstance(parse(body), Notification)


# --- invalid bodies: every problem, with its path ------------------------------------------------


def test_missing_event_id() -> None:
    body = notification()
    del body["eventId"]
    assert problems_of(body) == ["$.eventId: got nothing, want a non-empty string"]
    assert notifications().problems("ProductOrderEvent", body) == [
        "$: 'eventId' is a required property"
    ]


def test_wrong_event_type_not_in_the_mef_enum() -> None:
    body = notification()
    body["eventType"] = "productOrderCreateEvent"
    assert problems_of(body) == [
        "$.eventType: got 'productOrderCreateEvent', want 'productOrderItemStateChangeEvent'"
    ]
    assert notifications().problems("ProductOrderEvent", body)  # MEF agrees it is invalid


def test_event_type_of_another_endpoint() -> None:
    body = notification("productOrderItemExpectedCompletionDateSet")
    (problem,) = problems_of(body)
    assert problem.startswith(
        "$.eventType: got 'productOrderItemExpectedCompletionDateSet', "
        "want 'productOrderItemStateChangeEvent'"
    )
    assert "/listener/productOrderItemExpectedCompletionDateSet" in problem


@pytest.mark.parametrize(
    "event_time",
    [
        "yesterday",
        "2026-11-24",
        "2026-11-24T10:00:00",  # no offset: not a point in time
        "2026-11-24 10:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-11-24T24:00:00Z",
        "2026-11-24T10:00:60Z",
        "2026-11-24T10:00:00+25:00",
    ],
)
def test_bad_event_time(event_time: str) -> None:
    body = notification(event_time=event_time)
    (problem,) = problems_of(body)
    assert problem.startswith(f"$.eventTime: got {event_time!r}, want ")
    assert notifications().problems("ProductOrderEvent", body), "MEF's date-time agrees"


def test_every_problem_is_reported_at_once() -> None:
    body = {"eventTime": 17, "eventType": ITEM_EVENT, "event": {"href": 5, "buyerId": None}}
    assert problems_of(body) == [
        "$.eventId: got nothing, want a non-empty string",
        "$.eventTime: got number 17, want a non-empty string",
        "$.event.id: got nothing, want a non-empty string",
        "$.event.href: got number 5, want a string",
        "$.event.buyerId: got null, want a string",
        "$.event.orderItemId: got nothing, want a non-empty string",
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "$: got a body that is not JSON (Expecting property name enclosed"),
        (b"", "$: got a body that is not JSON (Expecting value"),
        (b'{"eventId": NaN}', "$: got a body that is not JSON (got NaN, want a JSON number"),
        (b"\xff\xfe{}", "$: got a body that is not JSON (not UTF-8"),
        (b"[1, 2]", "$: got an array, want an object (a MEF ProductOrderEvent)"),
        (b'"event"', "$: got 'event', want an object (a MEF ProductOrderEvent)"),
        (b"null", "$: got null, want an object (a MEF ProductOrderEvent)"),
        (b"[" * 100_000, "$: got a body that is not JSON (nested too deeply"),
    ],
)
def test_not_an_object(body: bytes, problem: str) -> None:
    (got,) = problems_of(body)
    assert got.startswith(problem), got


def test_event_must_be_an_object_with_an_id() -> None:
    cases: list[tuple[object, str]] = [
        (None, "$.event: got null, want an object"),
        ([], "$.event: got an array, want an object"),
        ({"id": ""}, "$.event.id: got '', want a non-empty string"),
    ]
    for event, want in cases:
        body = notification()
        body["event"] = event
        assert problems_of(body)[0] == want
    body = notification()
    del body["event"]
    assert problems_of(body) == [
        "$.event: got nothing, want an object (the ProductOrderEvent payload)"
    ]


@pytest.mark.parametrize("bad", ["\nr", "PO-1\r\n", "\x00", "PO\x7f1"])
def test_identifiers_with_a_control_character_are_refused(bad: str) -> None:
    # Found by the hostile-request property: an order id "\nr" reached the Seller API's URL
    # and its 404 became the listener's 500 instead of a 400 for the caller.
    body = notification()
    body["event"]["id"] = bad
    (problem,) = problems_of(body)
    assert problem.startswith("$.event.id: got a string with a control character at index")
    body = notification()
    body["event"]["id"] = "PO-1 (ü)"  # printable, non-ASCII: fine
    assert isinstance(parse(body, ITEM_EVENT), Notification)


def test_item_and_milestone_events_need_their_ids() -> None:
    body = notification("productSpecificProductOrderItemMilestoneEvent", item_id=None)
    del body["event"]["milestoneName"]
    assert problems_of(body, "productSpecificProductOrderItemMilestoneEvent") == [
        "$.event.orderItemId: got nothing, want a non-empty string",
        "$.event.milestoneName: got nothing, want a non-empty string",
    ]
    # MEF's schema leaves them optional; its descriptions say "Mandatory for ..." events.
    notifications().assert_valid("ProductOrderEvent", body)


def test_charge_event_needs_no_order_item() -> None:
    body = notification("chargeStateChangeEvent", "CHG-1", item_id=None)
    result = parse(body, "chargeStateChangeEvent")
    assert isinstance(result, Notification)
    assert result.subject_id == "CHG-1" and not result.is_product_order_event


def test_unknown_endpoint_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="endpoint event type: got 'nope'"):
        parse_notification(b"{}", "nope")


# --- the Error400 body ----------------------------------------------------------------------


def test_invalid_body_error_is_a_mef_error400() -> None:
    problems = [Problem("$.eventId", "got nothing, want a non-empty string")] * 40
    body = invalid_body_error(problems, ITEM_EVENT)
    notifications().assert_valid("Error400", body)
    assert body["code"] == "invalidBody"
    assert len(body["reason"]) <= 255
    assert body["message"].count("$.eventId: got nothing") == 40


# --- RFC 3339 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24t10:00:00z", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24T12:30:00+02:30", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24T05:00:00-05:00", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("1969-12-31T23:59:59.5Z", datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)),
        ("2024-02-29T00:00:00.123456789Z", datetime(2024, 2, 29, 0, 0, 0, 123_000, tzinfo=UTC)),
    ],
)
def test_rfc3339_ms(text: str, want: datetime) -> None:
    assert rfc3339_ms(text) == int(want.timestamp() * 1000)


def test_rfc3339_truncates_below_the_millisecond() -> None:
    assert rfc3339_ms("1970-01-01T00:00:00.0019Z") == 1
    assert rfc3339_ms("1969-12-31T23:59:59.9999Z") == -1


def test_mef_dir_points_at_the_specs() -> None:
    assert (mef_dir() / "productOrderNotification.api.yaml").is_file()
    assert json.loads(dumps({"a": [1, None, True]})) == {"a": [1, None, True]}


def test_strings_must_be_unicode_text() -> None:
    body = notification()
    body["eventId"] = "E-\ud800"
    body["event"]["buyerId"] = "\udfff"
    raw = json.dumps(body).encode()  # ASCII, with \\ud800 escapes: valid JSON, not valid text
    problems = parse_notification(raw, body["eventType"])
    assert [str(p) for p in problems] == [  # type: ignore[union-attr]
        "$.eventId: got a string with a lone surrogate at index 2, want Unicode text",
        "$.event.buyerId: got a string with a lone surrogate at index 0, want Unicode text",
    ]
    body["eventId"], body["event"]["buyerId"] = "E-\U0001f600", "dcc"  # a real pair: fine
    assert not isinstance(parse_notification(json.dumps(body).encode(), body["eventType"]), list)
