"""memcached client for the real-workload suite (pymemcache, Debian's python3-pymemcache).

usage: memcached_client.py PORT PATTERN ROUND
Pattern "a": one connection, set/get/delete of small values under keys a-ROUND-*.
Pattern "b": four threads, set_many/get_many, add/replace, incr/decr, delete, large values,
under other keys. Pattern "ready": only wait until the server answers (three minutes at most).
Prints "requests N failures M"; exits 1 if any request failed.
"""
import sys
import threading
import time

from pymemcache.client.base import Client

port, pattern, round_ = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
counts = {"requests": 0, "failures": 0}


def connect():
    deadline = time.time() + 180
    while True:
        try:
            client = Client(("127.0.0.1", port), connect_timeout=5, timeout=60)
            client.version()
            return client
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def check(ok, what):
    with lock:
        counts["requests"] += 1
        if not ok:
            counts["failures"] += 1
            print("FAILED:", what, file=sys.stderr)


def pattern_a():
    client = connect()
    for i in range(200):
        key, value = f"a-{round_}-{i}", f"value {i}".encode() * 4
        check(client.set(key, value, noreply=False), f"set {key}")
        check(client.get(key) == value, f"get {key}")
    for i in range(0, 200, 10):
        check(client.delete(f"a-{round_}-{i}", noreply=False), f"delete a-{round_}-{i}")
    client.close()


def guarded(work, *args):
    """A request that raised (refused, reset, timed out) is a failure too."""
    try:
        work(*args)
    except Exception as error:
        check(False, f"{work.__name__}{args}: {error!r}")


def pattern_b_worker(thread):
    client = connect()
    prefix = f"b{round_}-{thread}"
    batch = {f"{prefix}-{i}": bytes([65 + i % 26]) * (8000 + i) for i in range(40)}
    check(client.set_many(batch, noreply=False) == [], f"set_many {prefix}")
    got = client.get_many(list(batch))
    check(got == batch, f"get_many {prefix}")
    counter = f"{prefix}-counter"
    check(client.add(counter, b"10", noreply=False), f"add {counter}")
    check(not client.add(counter, b"0", noreply=False), f"add existing {counter}")
    check(client.incr(counter, 5) == 15, f"incr {counter}")
    check(client.decr(counter, 3) == 12, f"decr {counter}")
    check(client.replace(counter, b"99", noreply=False), f"replace {counter}")
    check(client.get(counter) == b"99", f"get {counter}")
    for key in list(batch)[::3]:
        check(client.delete(key, noreply=False), f"delete {key}")
        check(client.get(key) is None, f"get deleted {key}")
    client.close()


if pattern == "ready":
    connect().close()
    sys.exit(0)
if pattern == "a":
    guarded(pattern_a)
else:
    threads = [threading.Thread(target=guarded, args=(pattern_b_worker, t)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print("requests", counts["requests"], "failures", counts["failures"])
sys.exit(1 if counts["failures"] or not counts["requests"] else 0)
