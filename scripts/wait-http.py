"""Waits until a URL answers (any HTTP status), for at most the given seconds; gives up early
when the optional PID (the server being waited for) has exited."""
import os
import sys
import time
import urllib.error
import urllib.request

url, limit = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 30
pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
deadline = time.time() + limit
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        if pid is not None:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                sys.exit(f"the server behind {url} exited")
        time.sleep(0.1)
sys.exit(f"{url} did not answer within {limit}s")
