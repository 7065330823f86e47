#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SPA's cached nonce (issue 21): the phone keeps the nonce of a 407 and
opens later calls with it (RFC 2069 digest, no qop), as the reference flow does.

  cached_nonce.py challenge GW        INVITE without credentials; prints the
                                      407's realm and nonce as JSON (ACKs it)
  cached_nonce.py answer GW FILE      INVITE to 1-555-0100 with credentials on
                                      the nonce in FILE; prints the final status

GW is host[:port] (5060). Run in the phone's namespace: the source address
is 10.10.0.2 (PHONE_IP overrides it). User spa1, password spa1-secret
(config/examples/spa-to-carrier.toml)."""
import hashlib
import json
import os
import random
import re
import socket
import sys

USER, PASSWORD, NUMBER = "spa1", "spa1-secret", "15550100"
PHONE = os.environ.get("PHONE_IP", "10.10.0.2")


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def invite(gw, port, call_id, branch, cseq, auth=""):
    uri = f"sip:{NUMBER}@{gw}"
    sdp = (f"v=0\r\no=- 1 1 IN IP4 {PHONE}\r\ns=-\r\nc=IN IP4 {PHONE}\r\nt=0 0\r\n"
           "m=audio 16400 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    hdr = (f"INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE}:{port};branch={branch};rport\r\n"
           f"From: <sip:{USER}@{gw}>;tag=cn{call_id}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\n"
           f"CSeq: {cseq} INVITE\r\nMax-Forwards: 70\r\nContact: <sip:{USER}@{PHONE}:{port}>\r\n")
    if auth:
        hdr += f"Proxy-Authorization: {auth}\r\n"
    return (hdr + f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n" + sdp).encode()


def final_response(sock):
    while True:
        data = sock.recv(65535).decode(errors="replace")
        m = re.match(r"SIP/2.0 (\d+)", data)
        if m and int(m.group(1)) >= 200:
            return int(m.group(1)), data


def ack(sock, gw, dest, resp, call_id, branch, cseq, port):
    to = re.search(r"^To: (.*)$", resp, re.M | re.I).group(1).strip()
    sock.sendto((f"ACK sip:{NUMBER}@{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE}:{port};branch={branch};rport\r\n"
                 f"From: <sip:{USER}@{gw}>;tag=cn{call_id}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
                 f"CSeq: {cseq} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(), dest)


def main():
    mode, gw = sys.argv[1], sys.argv[2]
    gw, _, gw_port = gw.partition(":")
    dest = (gw, int(gw_port or 5060))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((PHONE, 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    call_id = "cached-nonce-%08x" % random.getrandbits(32)
    branch = "z9hG4bK-%08x" % random.getrandbits(32)
    auth = ""
    if mode == "answer":
        c = json.load(open(sys.argv[3]))
        uri = f"sip:{NUMBER}@{gw}"
        ha1 = md5(f"{USER}:{c['realm']}:{PASSWORD}")
        response = md5(f"{ha1}:{c['nonce']}:{md5('INVITE:' + uri)}")
        auth = (f'Digest username="{USER}",realm="{c["realm"]}",nonce="{c["nonce"]}",uri="{uri}",'
                f'algorithm=MD5,response="{response}"')
    sock.sendto(invite(gw, port, call_id, branch, 101, auth), dest)
    status, resp = final_response(sock)
    ack(sock, gw, dest, resp, call_id, branch, 101, port)
    if mode == "challenge":
        if status != 407:
            print(f"expected 407, got {status}")
            return 1
        ch = re.search(r"^Proxy-Authenticate: Digest (.*)$", resp, re.M | re.I).group(1)
        print(json.dumps({"realm": re.search(r'realm="([^"]*)"', ch).group(1),
                          "nonce": re.search(r'nonce="([^"]*)"', ch).group(1)}))
        return 0
    print(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
