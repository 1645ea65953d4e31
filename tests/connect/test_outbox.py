"""The outbox: durable across a reopen, in order per channel, bounded by size (drop-oldest) and age
(expire), each loss counted; confirmed rows are deleted, rows sent again are counted as resent."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from runtime._connect.outbox import Outbox


def _put(outbox: Outbox, count: int, channel: str = "mqtt", start: int = 0) -> None:
    outbox.put([(channel, f"t/{index}", b"%d" % index) for index in range(start, start + count)])


def test_rows_survive_a_reopen_in_order_per_channel(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    _put(outbox, 5)
    _put(outbox, 3, channel="opcua")
    outbox.close()
    again = Outbox(tmp_path / "outbox.db")
    assert again.queued == 8
    assert [m.payload for m in again.peek("mqtt", 10)] == [b"0", b"1", b"2", b"3", b"4"]
    assert [m.topic for m in again.peek("opcua", 10)] == ["t/0", "t/1", "t/2"]
    first_two = again.peek("mqtt", 2)
    assert [m.payload for m in again.peek("mqtt", 10, after_id=first_two[-1].id)] == [b"2", b"3", b"4"]
    with sqlite3.connect(tmp_path / "outbox.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_confirmed_rows_are_deleted_and_resends_counted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    _put(outbox, 4)
    rows = outbox.peek("mqtt", 4)
    outbox.mark_sent(rows)
    assert outbox.resent == 0
    outbox.confirm([rows[0].id, rows[1].id])
    assert (outbox.queued, outbox.depth(), outbox.delivered) == (2, 2, 2)
    outbox.mark_sent(outbox.peek("mqtt", 4))  # sent again (a reconnect, a restart): possible duplicates
    assert outbox.resent == 2


def test_a_full_outbox_drops_its_oldest_rows_and_counts_them(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_messages=10)
    _put(outbox, 8)
    _put(outbox, 5, start=8)
    assert (outbox.queued, outbox.dropped) == (10, 3)
    assert [m.payload for m in outbox.peek("mqtt", 20)] == [b"%d" % i for i in range(3, 13)]


def test_rows_older_than_the_age_bound_expire_and_are_counted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_age_s=60)
    _put(outbox, 3)
    with sqlite3.connect(tmp_path / "outbox.db") as raw:  # two rows written two minutes ago
        raw.execute("UPDATE outbox SET created_epoch = ? WHERE payload IN (?, ?)", (time.time() - 120, b"0", b"1"))
    assert [m.payload for m in outbox.peek("mqtt", 10)] == [b"2"]
    assert (outbox.expired, outbox.queued) == (2, 1)
    assert outbox.oldest_age_s() < 60
