"""The dashboard's door on a secured cluster: the scheduler serves its dashboard (and this runtime's status route) on
the node's loopback only, and this TLS server, on the address the dashboard would have had, passes on the bytes of
clients that hold the cluster's keys. Anyone else on the cluster network is refused at the handshake, before a byte
of a page: the dashboard shows task names, worker logs and call stacks. Dask's own dashboard TLS only encrypts."""
import asyncio
import logging

log = logging.getLogger("gadi_dask.dashboard_door")
CHUNK = 65536


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def open_door(host, port, target_port, context):
    """Serves on host:port (port 0, or a taken port: any free one) for 127.0.0.1:target_port; returns the server."""

    async def visitor(reader, writer):
        try:
            inner_reader, inner_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError as e:
            log.warning("dashboard unreachable on 127.0.0.1:%s: %s", target_port, e)
            writer.close()
            return
        await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))

    try:
        return await asyncio.start_server(visitor, host or None, port, ssl=context)
    except OSError as e:
        if not port:
            raise
        log.info("dashboard port %s taken (%s): another one", port, e)
        return await asyncio.start_server(visitor, host or None, 0, ssl=context)


def door_port(server):
    return server.sockets[0].getsockname()[1]
