"""HTTP client for the real-workload suite's web application and forking file server.

usage: http_client.py PORT SERVER PATTERN ROUND, SERVER "web" or "files", PATTERN "a" or "b".
Pattern "a" is sequential; pattern "b" uses other data and eight concurrent threads.
Pattern "ready" only waits until the server answers (three minutes at most).
Prints "requests N failures M"; exits 1 if any request failed or got an unexpected answer.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import quote

port, server, pattern, round_ = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
lock = threading.Lock()
counts = {"requests": 0, "failures": 0}


def check(ok, what):
    with lock:
        counts["requests"] += 1
        if not ok:
            counts["failures"] += 1
            print("FAILED:", what, file=sys.stderr)


def request(path, data=None, method=None):
    """(status, body bytes); HTTP errors are answers too."""
    req = urllib.request.Request(base + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready():
    deadline = time.time() + 180
    while True:
        try:
            request("/")
            return
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def guarded(work, *args):
    try:
        work(*args)
    except Exception as error:
        check(False, f"{work.__name__}{args}: {error!r}")


def web(words, thread):
    ids = {}
    for word in words:
        body = f"note {round_}/{thread} about {word} " * 3
        status, answer = request("/notes", data=body.encode(), method="POST")
        check(status == 201, f"POST note {word}: {status}")
        ids[json.loads(answer)["id"]] = body
    for note_id, body in ids.items():
        status, answer = request(f"/notes/{note_id}")
        check(status == 200 and json.loads(answer)["body"] == body, f"GET /notes/{note_id}")
    for word in words:
        status, answer = request(f"/search?q={quote(word)}")
        check(status == 200 and json.loads(answer)["ids"], f"search {word}")
    status, answer = request("/system")
    check(status == 200 and json.loads(answer)["uname"].startswith("Linux"), "/system")
    status, _ = request("/notes/999999999")
    check(status == 404, "missing note is 404")


def files(paths, thread):
    for path in paths:
        status, body = request(path)
        check(status == 200 and len(body) > 0, f"GET {path}: {status}")
    status, body = request("/no-such-file")
    check(status == 404, "missing file is 404")


if pattern == "ready":
    wait_ready()
    sys.exit(0)
if server == "web":
    work = web
    if pattern == "a":
        jobs = [["apple", "banana", "cherry", "damson"]]
    else:
        jobs = [[f"ümlaut{t}", f"zebra{t}", "x" * 2000, f"quote's {t}"] for t in range(8)]
else:
    work = files
    if pattern == "a":
        jobs = [["/", "/python3/copyright", "/memcached/", "/libc6/copyright"]]
    else:
        jobs = [["/postgresql-common/", "/python3-pymemcache/copyright", "/libssl3/copyright",
                 "/bash/", "/coreutils/copyright"] for _ in range(8)]

threads = [threading.Thread(target=guarded, args=(work, job, t)) for t, job in enumerate(jobs)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("requests", counts["requests"], "failures", counts["failures"])
sys.exit(1 if counts["failures"] or not counts["requests"] else 0)
