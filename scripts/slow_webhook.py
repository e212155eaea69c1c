#!/usr/bin/env python3
"""The benchmark's slow webhook: answers every request {"ok": true} after ?ms=N milliseconds (default 1000).

One asyncio thread and keep-alive connections, so that the endpoint itself costs next to no CPU: a real
notification endpoint (Slack, DingTalk, Lark) runs on another machine, and the benchmark measures what the
token service pays for calling it, not the sink's own work on the same two cores. Usage: slow_webhook.py PORT
"""
import asyncio
import sys
from urllib.parse import parse_qs, urlsplit

BODY = b'{"ok": true}'
REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY
MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                break
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 2 else "/"
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "connection" and value.strip().lower() == "close":
                    close = True
            if length > MAX_BODY:
                break
            if length:
                await reader.readexactly(length)
            ms = int(parse_qs(urlsplit(target).query).get("ms", ["1000"])[0])
            await asyncio.sleep(ms / 1000)
            writer.write(REPLY)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, IndexError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
