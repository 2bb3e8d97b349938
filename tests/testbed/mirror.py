# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A read-only HTTP mirror for testbed VMs, one connection per process on stdin/stdout.

vm.sh starts qemu with `guestfwd=tcp:10.0.2.100:80-cmd:mirror.py DIR LOG` when TESTBED_MIRROR
names a directory: each TCP connection the guest opens to http://10.0.2.100/ runs this script
with the connection as stdin/stdout. The guest network stays restricted (restrict=on: no route
to the host or the outside); this forward is the only thing the guest can reach, as a host in a
closed network reaches its internal mirror. No port is opened on the host.

GET and HEAD of regular files under DIR (no symlinks out of it, no '..'); 404 otherwise. Every
request is appended to LOG, so a test can prove the guest's curl fetched a file.
"""

import os
import sys
import time
from urllib.parse import unquote, urlsplit

MAX_LINE = 8192


def respond(out, status, reason, body=b"", length=None, head=False):
    length = len(body) if length is None else length
    head_lines = ("HTTP/1.0 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n" % (status, reason, length))
    out.write(head_lines.encode())
    if not head:
        out.write(body)


def resolve(root, target):
    path = unquote(urlsplit(target).path)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or not parts:
        return None
    full = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([full, root]) != root or not os.path.isfile(full):
        return None
    return full


def main():
    root, log = os.path.realpath(sys.argv[1]), sys.argv[2]
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    line = inp.readline(MAX_LINE).decode("latin-1").strip()
    while True:  # the headers: read and ignore
        header = inp.readline(MAX_LINE)
        if header in (b"\r\n", b"\n", b""):
            break
    fields = line.split()
    status, sent = 400, 0
    if len(fields) == 3 and fields[0] in ("GET", "HEAD"):
        full = resolve(root, fields[1])
        if full is None:
            status = 404
            respond(out, 404, "Not Found", b"not found\n", head=fields[0] == "HEAD")
        else:
            status, size = 200, os.path.getsize(full)
            respond(out, 200, "OK", length=size, head=True)
            if fields[0] == "GET":
                with open(full, "rb") as handle:
                    while True:
                        chunk = handle.read(1 << 20)
                        if not chunk:
                            break
                        out.write(chunk)
                        sent += len(chunk)
    else:
        respond(out, 400, "Bad Request", b"bad request\n")
    out.flush()
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("%s %s %d %d\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), line, status, sent))


if __name__ == "__main__":
    main()
