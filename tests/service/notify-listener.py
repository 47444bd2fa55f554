#!/usr/bin/env python3
"""Plays systemd's side of the notify protocol for tests/service/: binds an
AF_UNIX datagram socket at argv[1] (what NOTIFY_SOCKET names) and prints
each datagram that arrives as one JSON line, {"pid": sender, "text": ...},
the sender's pid from its credentials as systemd reads them. Node has no
unix datagram sockets, hence Python. Exits when its parent does."""
import json
import os
import socket
import struct
import sys

path = sys.argv[1]
parent = os.getppid()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.settimeout(0.5)
print(json.dumps({"bound": path}), flush=True)
while os.getppid() == parent:
    try:
        data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(12))
    except socket.timeout:
        continue
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", payload[:12])[0]
    print(json.dumps({"pid": pid, "text": data.decode("utf-8", "replace")}), flush=True)
