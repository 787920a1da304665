#!/usr/bin/env python3
"""Holds N connections to a local ingest, each having sent 900 kB of a 1 MB webhook body, and
prints ingest's peak resident memory and what each connection was answered. Usage:
slow-flood.py N INGEST_PID. See docs/benchmarks.md, "Ingest under a flood of stalled bodies"."""
import socket, sys, time, os
n=int(sys.argv[1]); pid=sys.argv[2]
body=b'a'*900_000
socks=[]
for i in range(n):
    s=socket.create_connection(('127.0.0.1',8080))
    s.sendall(b"POST /webhooks/stytch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n")
    socks.append(s)
for s in socks:
    try: s.sendall(body)
    except Exception as e: pass
time.sleep(2)
hwm=[l for l in open(f'/proc/{pid}/status') if l.startswith(('VmHWM','VmRSS'))]
print(''.join(hwm).replace('\n',' '))
codes={}
for s in socks:
    s.settimeout(0.2)
    try:
        d=s.recv(20)
        codes[d[:12]]=codes.get(d[:12],0)+1
    except Exception:
        codes['pending']=codes.get('pending',0)+1
print(codes)
