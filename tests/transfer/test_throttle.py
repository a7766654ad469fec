"""The bandwidth cap: pacing arithmetic on a fake clock, and one real capped round trip."""

from __future__ import annotations

import hashlib
import random
import threading
import time

import pytest

from transfer import download_object, upload_file
from transfer.cli import _parser, bandwidth
from transfer.integrity import MIB
from transfer.throttle import PACE_CHUNK, ThrottledBody, TokenBucket, mbps_to_bytes_per_second


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.now += seconds


def test_bucket_paces_chunks_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(1000.0, burst=100, clock=clock, sleep=clock.sleep)
    assert bucket.consume(100) == 0.0  # the burst is free
    assert bucket.consume(250) == pytest.approx(0.25)
    assert bucket.consume(500) == pytest.approx(0.5)
    assert clock.now == pytest.approx(100.75)
    clock.now += 10  # idle: tokens refill only up to the burst
    assert bucket.consume(100) == 0.0
    assert bucket.consume(100) == pytest.approx(0.1)


def test_debt_queues_later_callers():
    clock = FakeClock()
    bucket = TokenBucket(1000.0, burst=0, clock=clock, sleep=lambda s: None)
    # Two callers at the same instant: the second waits for both debts.
    assert bucket.consume(500) == pytest.approx(0.5)
    assert bucket.consume(500) == pytest.approx(1.0)


def test_body_is_paced_in_chunks_and_charged_once():
    clock = FakeClock()
    rate = 4 * PACE_CHUNK  # four chunks a second
    bucket = TokenBucket(rate, burst=PACE_CHUNK, clock=clock, sleep=clock.sleep)
    data = random.Random(3).randbytes(16 * PACE_CHUNK + 123)
    body = ThrottledBody(data, bucket)
    assert len(body) == len(data)
    # A signing pass reads everything, rewinds, then the sending pass reads again.
    assert body.read(MIB // 3) + body.read() == data
    body.seek(0)
    sent = b"".join(iter(lambda: body.read(8192), b""))
    assert sent == data
    # Every read was paced chunk by chunk, never one sleep for the whole body.
    assert len(clock.sleeps) >= 16
    assert max(clock.sleeps) <= PACE_CHUNK / rate + 1e-9
    # The bytes crossed once: time = (size - burst) / rate.
    assert clock.now - 100.0 == pytest.approx((len(data) - PACE_CHUNK) / rate)
    assert body.seek(0, 2) == len(data) and body.tell() == len(data)


def test_threads_share_one_cap():
    clock = FakeClock()
    bucket = TokenBucket(1e6, burst=0, clock=clock, sleep=lambda s: None)
    waits: list[float] = []

    def worker() -> None:
        for _ in range(10):
            waits.append(bucket.consume(10_000))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # No clock movement: the debt of all 40 chunks accumulates to 0.4 s in total.
    assert max(waits) == pytest.approx(0.4)


def test_rejects_a_non_positive_cap():
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_cli_option_and_environment(monkeypatch):
    base = ["u", "k", "s", "r", "b", "id", "download", "d"]
    monkeypatch.delenv("YC_BANDWIDTH_MBPS", raising=False)
    assert bandwidth(_parser().parse_args(base)) is None
    assert bandwidth(_parser().parse_args([*base, "--bandwidth-mbps", "8"])) == 1e6
    monkeypatch.setenv("YC_BANDWIDTH_MBPS", "16")
    assert bandwidth(_parser().parse_args(base)) == 2e6
    assert bandwidth(_parser().parse_args([*base, "--bandwidth-mbps", "8"])) == 1e6
    assert mbps_to_bytes_per_second(100) == 12.5e6


def test_cli_rejects_a_bad_cap(monkeypatch, capsys, tmp_path):
    from transfer.cli import main

    base = ["u", "k", "s", "r", "b", "id", "download", str(tmp_path)]
    assert main([*base, "--bandwidth-mbps", "-1"], client=lambda a: None) == 2
    monkeypatch.setenv("YC_BANDWIDTH_MBPS", "fast")
    assert main(base, client=lambda a: None) == 2
    assert "YC_BANDWIDTH_MBPS" in capsys.readouterr().err


def test_capped_transfer_takes_its_time(s3, bucket, tmp_path):
    data = random.Random(5).randbytes(2 * MIB)
    (tmp_path / "f").write_bytes(data)
    cap = mbps_to_bytes_per_second(16)  # 2 MB/s: 2 MiB is just over a second
    start = time.monotonic()
    result = upload_file(s3, tmp_path / "f", bucket, "k", bandwidth_bytes_per_second=cap)
    up = time.monotonic() - start
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    start = time.monotonic()
    download_object(
        s3, bucket, "k", tmp_path / "out", part_size=MIB, bandwidth_bytes_per_second=cap
    )
    down = time.monotonic() - start
    assert (tmp_path / "out").read_bytes() == data
    assert up >= 0.9, up
    assert down >= 0.9, down
