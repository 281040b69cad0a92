"""A small WSGI application (the standard library's wsgiref) with a SQLite database and a
subprocess, for the real-workload suite.

usage: web_app.py PORT. Notes are stored in /tmp/notes.db; /system runs `uname -sr`.
SIGTERM shuts the server down gracefully: it stops accepting, closes the database, exits 0.
"""
import json
import signal
import sqlite3
import subprocess
import sys
import threading
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

db = sqlite3.connect("/tmp/notes.db", check_same_thread=False)
db.execute("create table if not exists notes (id integer primary key, body text not null)")
db.commit()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def answer(start, status, value):
    body = json.dumps(value).encode()
    start(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/notes" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode()
        cursor = db.execute("insert into notes (body) values (?)", (body,))
        db.commit()
        return answer(start, "201 Created", {"id": cursor.lastrowid})
    if path.startswith("/notes/") and method == "GET":
        row = db.execute("select body from notes where id = ?", (int(path[7:]),)).fetchone()
        if row is None:
            return answer(start, "404 Not Found", {"error": "no such note"})
        return answer(start, "200 OK", {"body": row[0]})
    if path == "/search":
        word = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
        rows = db.execute("select id from notes where body like ? order by id", (f"%{word}%",))
        return answer(start, "200 OK", {"ids": [r[0] for r in rows]})
    if path == "/system":
        uname = subprocess.run(["uname", "-sr"], capture_output=True, text=True, check=True)
        return answer(start, "200 OK", {"uname": uname.stdout.strip()})
    return answer(start, "404 Not Found", {"error": "no such page"})


server = make_server("127.0.0.1", int(sys.argv[1]), app, handler_class=QuietHandler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
server.server_close()
db.close()
sys.exit(0)
