"""AsyncClient's max_concurrency counter (httpr._async._Slots): order, hand-over, timeouts,
cancellation. The client-level behaviour (caps at the server, PoolTimeout) is in
tests/client/test_async_client.py; these pin the edge cases a cancelled waiter creates."""

from __future__ import annotations

import asyncio

import pytest

from httpr._async import _Slots

pytestmark = pytest.mark.asyncio


async def test_free_slots_are_taken_without_waiting() -> None:
    slots = _Slots(2, asyncio.get_running_loop())
    assert slots.try_take() and slots.try_take()
    assert not slots.try_take()
    slots.release()
    assert slots.try_take()


async def test_waiters_get_released_slots_first_come_first_served() -> None:
    slots = _Slots(1, asyncio.get_running_loop())
    assert slots.try_take()
    order: list[int] = []

    async def waiter(i: int) -> None:
        assert await slots.take(None)
        order.append(i)

    tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert not slots.try_take()  # queued waiters come before a newcomer
    for _ in range(3):
        slots.release()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert not slots.try_take()  # the last waiter still holds the one slot
    slots.release()
    assert slots.try_take()


async def test_a_wait_past_its_timeout_returns_false_and_leaves_no_waiter() -> None:
    slots = _Slots(1, asyncio.get_running_loop())
    assert slots.try_take()
    assert await slots.take(0.02) is False
    assert not slots._waiters
    slots.release()
    assert slots.try_take()  # the slot went back to the pool, not to the expired waiter


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    slots = _Slots(1, asyncio.get_running_loop())
    assert slots.try_take()
    task = asyncio.create_task(slots.take(None))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not slots._waiters
    slots.release()
    assert slots.try_take()


async def test_a_waiter_cancelled_after_the_hand_over_passes_the_slot_on() -> None:
    """release() resolved its future, then the task was cancelled before it ran: the slot
    must reach the next waiter, not vanish."""
    slots = _Slots(1, asyncio.get_running_loop())
    assert slots.try_take()
    first = asyncio.create_task(slots.take(None))
    second = asyncio.create_task(slots.take(None))
    await asyncio.sleep(0)
    slots.release()  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1.0) is True
    assert not slots.try_take()  # `second` holds the only slot
    slots.release()
    assert slots.try_take()
