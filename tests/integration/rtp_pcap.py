#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""What one source sent in a capture (tshark -F pcap), for control_media.sh.

  rtp_pcap.py stream CAP SRC_IP
      JSON about the RTP SRC_IP sent (SIP on port 5060 left out): packets per
      payload type, payload sizes, sequence gaps, timestamp steps.
  rtp_pcap.py before CAP SRC_IP PREFIX
      JSON: RTP packets SRC_IP sent before its first SIP message starting with
      PREFIX (e.g. "SIP/2.0 200"), and whether that message was seen.
"""
import collections
import json
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit(f"{path}: not a pcap file")
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise SystemExit(f"{path}: not a little-endian classic pcap")
    nano = magic == 0xA1B23C4D
    link = struct.unpack("<I", data[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20}.get(link)
    if l2 is None:
        raise SystemExit(f"{path}: link type {link} not handled")
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        t = sec + frac / (1e9 if nano else 1e6)
        ip = pkt[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        src = ".".join(str(b) for b in ip[12:16])
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        yield t, src, sport, dport, udp[8:ulen]


def rtp(payload):
    if len(payload) < 12 or payload[0] >> 6 != 2:
        return None
    cc = payload[0] & 0x0F
    hl = 12 + 4 * cc
    if payload[0] & 0x10:
        if len(payload) < hl + 4:
            return None
        hl += 4 + 4 * struct.unpack(">H", payload[hl + 2:hl + 4])[0]
    end = len(payload) - (payload[-1] if payload[0] & 0x20 else 0)
    if end < hl:
        return None
    seq, ts = struct.unpack(">HI", payload[2:8])
    return payload[1] & 0x7F, seq, ts, end - hl


def stream(path, src):
    by_pt = collections.Counter()
    sizes = collections.Counter()
    steps = collections.Counter()
    gaps = 0
    last = None
    for _, s, sport, dport, payload in frames(path):
        if s != src or 5060 in (sport, dport) or dport % 2:
            continue
        r = rtp(payload)
        if r is None:
            continue
        pt, seq, ts, size = r
        by_pt[pt] += 1
        sizes[size] += 1
        if last is not None and last[0] == pt:
            if (seq - last[1]) & 0xFFFF != 1:
                gaps += 1
            steps[(ts - last[2]) & 0xFFFFFFFF] += 1
        last = (pt, seq, ts)
    return {"packets": sum(by_pt.values()), "by_pt": {str(k): v for k, v in sorted(by_pt.items())},
            "sizes": {str(k): v for k, v in sorted(sizes.items())}, "seq_gaps": gaps,
            "ts_steps": {str(k): v for k, v in sorted(steps.items())}}


def before(path, src, prefix):
    n = 0
    seen = False
    for _, s, sport, dport, payload in frames(path):
        if s != src:
            continue
        if 5060 in (sport, dport):
            if payload.startswith(prefix.encode()) and b"INVITE" in payload.split(b"\r\n\r\n")[0]:
                seen = True
                break
            continue
        if dport % 2 == 0 and rtp(payload) is not None:
            n += 1
    return {"rtp_before": n, "seen": seen}


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "stream" and len(sys.argv) == 4:
        print(json.dumps(stream(sys.argv[2], sys.argv[3])))
    elif cmd == "before" and len(sys.argv) == 5:
        print(json.dumps(before(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        raise SystemExit(__doc__)
