"""A forking HTTP file server (a new process per connection: socketserver.ForkingMixIn) that
serves /usr/share/doc, for the real-workload suite.

usage: forking_server.py PORT. SIGTERM stops accepting, waits for the children, exits 0.
"""
import functools
import http.server
import signal
import socketserver
import sys
import threading


class ForkingHTTPServer(socketserver.ForkingMixIn, http.server.HTTPServer):
    block_on_close = True


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


handler = functools.partial(QuietHandler, directory="/usr/share/doc")
server = ForkingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
server.server_close()
sys.exit(0)
