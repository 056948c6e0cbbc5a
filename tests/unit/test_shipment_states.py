"""The shipment state machine (domain.shipment_states) against a matrix written out here, cell by cell.

The expected matrix is typed by hand, not derived from the module: a change to the table fails here until the
matrix (and docs/shipment-states.md) say the same.
"""

from __future__ import annotations

import pytest

from herald.domain.shipment_states import Move, ShipmentState, move, sources_of, state_of

S = ShipmentState
COLUMNS = ["created", "in_transit", "delayed", "out_for_delivery", "delivery_attempted", "delivered", "exception",
           "returned"]  # fmt: skip
# Row: the status last notified. Column: the status arriving. N notified, L notified if not older, - superseded.
EXPECTED = {
    None:                 "N N N N N N N N",
    "created":            "- N N N N N N N",
    "in_transit":         "- - N N N N N N",
    "delayed":            "- - L N N N N N",
    "out_for_delivery":   "- - N - N N N N",
    "delivery_attempted": "- - N L L N N N",
    "delivered":          "- - - - - - - N",
    "exception":          "- L L L L N L N",
    "returned":           "- - - - - - - -",
}  # fmt: skip
_CELL = {"N": Move.NOTIFIED, "L": Move.IF_LATER, "-": None}
PAIRS = [
    (row, column, _CELL[cell])
    for row, cells in EXPECTED.items()
    for column, cell in zip(COLUMNS, cells.split(), strict=True)
]


def test_the_matrix_names_every_state_once() -> None:
    # Given the expected matrix; Then its rows and columns are exactly the module's states (none forgotten)
    assert sorted(COLUMNS) == sorted(s.value for s in ShipmentState)
    assert sorted(r for r in EXPECTED if r is not None) == sorted(COLUMNS)


@pytest.mark.parametrize(("current", "new", "expected"), PAIRS, ids=[f"{r}->{c}" for r, c, _ in PAIRS])
def test_every_ordered_pair_of_states_is_notified_or_superseded_as_the_matrix_says(
    current: str | None, new: str, expected: Move | None
) -> None:
    # Given a shipment last notified of `current`; When `new` arrives; Then the table answers as the matrix
    assert move(None if current is None else S(current), S(new)) is expected


def test_out_for_delivery_after_an_exception_is_sent_when_it_is_newer() -> None:
    # Given an exception notified; When the carrier sends the parcel out again; Then the customer hears of it
    assert move(S.EXCEPTION, S.OUT_FOR_DELIVERY) is Move.IF_LATER


def test_a_delay_after_out_for_delivery_is_sent() -> None:
    # Given a parcel out for delivery; When the carrier reports a delay (the van did not make it); Then sent
    assert move(S.OUT_FOR_DELIVERY, S.DELAYED) is Move.NOTIFIED


def test_in_transit_twice_is_one_notice() -> None:
    # Given a first scan notified; When another scan arrives; Then it is superseded
    assert move(S.IN_TRANSIT, S.IN_TRANSIT) is None


@pytest.mark.parametrize("new", [s for s in ShipmentState if s is not S.RETURNED])
def test_anything_but_a_return_after_delivered_is_superseded(new: ShipmentState) -> None:
    # Given a delivered parcel; When any status but a return to sender arrives; Then it is superseded
    assert move(S.DELIVERED, new) is None
    # And the return is notified
    assert move(S.DELIVERED, S.RETURNED) is Move.NOTIFIED


def test_an_exception_of_kind_returned_to_sender_is_the_returned_state() -> None:
    # Given event types and exception kinds; Then only a return to sender maps to `returned`
    assert state_of("shipment.exception", "returned_to_sender") is S.RETURNED
    assert state_of("shipment.exception", "lost") is S.EXCEPTION
    assert state_of("shipment.out_for_delivery") is S.OUT_FOR_DELIVERY


def test_the_ledger_condition_lists_the_sources_of_each_kind() -> None:
    # Given the out_for_delivery column; Then the write allows these states outright, and these when not older
    assert sources_of(S.OUT_FOR_DELIVERY, Move.NOTIFIED) == {S.CREATED, S.IN_TRANSIT, S.DELAYED}
    assert sources_of(S.OUT_FOR_DELIVERY, Move.IF_LATER) == {S.DELIVERY_ATTEMPTED, S.EXCEPTION}
