#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""RTP sender/receiver for the dataplane rig test (stdlib only).

  send   SRC_IP SRC_PORT DST_IP DST_PORT SSRC COUNT        20 ms paced RTP
  duplex SRC_IP SRC_PORT DST_IP DST_PORT SSRC COUNT SECONDS DELAY [PT PAYLOADS RECEIVED]
         symmetric RTP: receives on its socket at once, sends as `send`
         from DELAY seconds on,
         prints a JSON summary of what it received.  With PT and PAYLOADS
         (a file of COUNT equal-sized payloads) it sends those instead and
         appends every received RTP payload, in arrival order, to RECEIVED
  telemetry SOCKET COMMAND                                 one DPDK telemetry query
"""
import json
import select
import socket
import struct
import sys
import time


def packets(ssrc, count, pt=None, payload_file=None):
    ssrc = int(ssrc, 0)
    if payload_file is not None:
        data = open(payload_file, "rb").read()
        size = len(data) // int(count)
        for i in range(int(count)):
            hdr = struct.pack("!BBHII", 0x80, int(pt), (1000 + i) & 0xFFFF, 160 * i, ssrc)
            yield hdr + data[i * size:(i + 1) * size]
        return
    for i in range(int(count)):
        hdr = struct.pack("!BBHII", 0x80, 0, (1000 + i) & 0xFFFF, 160 * i, ssrc)
        # the payload carries the sender's SSRC so receivers can tell streams apart
        yield hdr + struct.pack("!I", ssrc) + bytes(156)


def send(src_ip, src_port, dst_ip, dst_port, ssrc, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src_ip, int(src_port)))
    for p in packets(ssrc, count):
        s.sendto(p, (dst_ip, int(dst_port)))
        time.sleep(0.02)


def duplex(src_ip, src_port, dst_ip, dst_port, ssrc, count, seconds, delay,
           pt=None, payload_file=None, recv_file=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src_ip, int(src_port)))
    s.setblocking(False)
    got = {"packets": 0, "sources": [], "out_ssrcs": [], "inner_ssrcs": {}, "seq_gaps": 0,
           "ts_gaps": 0, "pts": [], "sizes": [], "bad_headers": 0}
    last_seq = None
    last_ts = None
    recv = open(recv_file, "wb") if recv_file else None
    todo = list(packets(ssrc, count, pt, payload_file))
    start = time.time() + float(delay)
    end = time.time() + float(seconds)
    sent = 0
    while time.time() < end:
        now = time.time()
        if sent < len(todo) and now >= start + 0.02 * sent:
            s.sendto(todo[sent], (dst_ip, int(dst_port)))
            sent += 1
        r, _, _ = select.select([s], [], [], 0.005)
        if not r:
            continue
        data, addr = s.recvfrom(2048)
        if len(data) < 16:
            continue
        got["packets"] += 1
        src = "%s:%d" % addr
        if src not in got["sources"]:
            got["sources"].append(src)
        out_ssrc = struct.unpack("!I", data[8:12])[0]
        if out_ssrc not in got["out_ssrcs"]:
            got["out_ssrcs"].append(out_ssrc)
        if not recv:  # payloads of `packets` start with the sender's SSRC
            inner = "%08x" % struct.unpack("!I", data[12:16])[0]
            got["inner_ssrcs"][inner] = got["inner_ssrcs"].get(inner, 0) + 1
        seq = struct.unpack("!H", data[2:4])[0]
        ts = struct.unpack("!I", data[4:8])[0]
        if last_seq is not None and seq != (last_seq + 1) & 0xFFFF:
            got["seq_gaps"] += 1
        elif last_ts is not None and ts != (last_ts + 160) & 0xFFFFFFFF:
            got["ts_gaps"] += 1  # 20 ms packets at 8 kHz: +160 per packet
        last_seq = seq
        last_ts = ts
        if data[0] != 0x80:
            got["bad_headers"] += 1  # version 2, no padding/extension/CSRC expected
        if data[1] & 0x7F not in got["pts"]:
            got["pts"].append(data[1] & 0x7F)
        if len(data) - 12 not in got["sizes"]:
            got["sizes"].append(len(data) - 12)
        if recv:
            recv.write(data[12:])
    got["sent"] = sent
    if recv:
        recv.close()
    print(json.dumps(got))


def telemetry(path, command):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    json.loads(s.recv(16384).decode())
    s.send(command.encode())
    print(s.recv(65536).decode())


if __name__ == "__main__":
    {"send": send, "duplex": duplex, "telemetry": telemetry}[sys.argv[1]](*sys.argv[2:])
