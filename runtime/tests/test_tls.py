"""The cluster's TLS keys: private files, new ones at every start, and a scheduler that admits only their holders."""
import asyncio
import logging
import os
import shutil
import ssl
import stat
import tempfile
import unittest

from gadi_dask import tls


class KeyFilesTest(unittest.TestCase):
    def setUp(self):
        self.base = tempfile.mkdtemp()
        self.cdir = os.path.join(self.base, "clusters", "demo")
        os.makedirs(self.cdir, mode=0o755)

    def tearDown(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def test_files_and_directory_are_private_and_keys_change_at_every_make(self):
        old_umask = os.umask(0)  # the modes must not depend on the user's umask
        try:
            cert, key = tls.make(self.cdir, "demo")
        finally:
            os.umask(old_umask)
        self.assertEqual(stat.S_IMODE(os.stat(self.cdir).st_mode), 0o700)
        for path in (cert, key):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)
        with open(key) as f:
            first_key = f.read()
        with open(cert) as f:
            first_cert = f.read()
        self.assertIn("PRIVATE KEY", first_key)
        self.assertIn("CERTIFICATE", first_cert)
        tls.make(self.cdir, "demo")
        with open(key) as f:
            self.assertNotEqual(f.read(), first_key)
        self.assertEqual(sorted(os.listdir(self.cdir)), ["tls-cert.pem", "tls-key.pem"])  # no temporary left

    def test_renew_keeps_the_keys_of_a_scheduler_that_still_answers(self):
        import json
        import socket

        tls.make(self.cdir, "demo")
        with open(os.path.join(self.cdir, "tls-key.pem")) as f:
            first = f.read()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        try:
            with open(os.path.join(self.cdir, "scheduler.json"), "w") as f:
                json.dump({"address": "tls://127.0.0.1:%d" % listener.getsockname()[1]}, f)
            self.assertFalse(tls.renew(self.cdir, "demo"))
        finally:
            listener.close()
        with open(os.path.join(self.cdir, "tls-key.pem")) as f:
            self.assertEqual(f.read(), first)
        self.assertTrue(tls.renew(self.cdir, "demo"))  # nothing listens there any more: a new scheduler, new keys
        with open(os.path.join(self.cdir, "tls-key.pem")) as f:
            self.assertNotEqual(f.read(), first)

    def test_missing_keys_name_the_file_and_what_to_do(self):
        with self.assertRaises(tls.TlsError) as e:
            tls.connection_args(self.cdir, "tls://127.0.0.1:1")
        self.assertIn("tls-cert.pem", str(e.exception))
        self.assertIn("down", str(e.exception))


class SchedulerAdmitsKeyHoldersOnlyTest(unittest.TestCase):
    def setUp(self):
        self.base = tempfile.mkdtemp()
        self.cdir = os.path.join(self.base, "c")
        self.old = os.path.join(self.base, "old")

    def tearDown(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def test_a_client_without_the_current_keys_is_refused(self):
        from distributed import Scheduler
        from distributed.core import rpc
        from distributed.security import Security

        tls.make(self.old, "c")
        tls.make(self.cdir, "c")  # the cluster started again: the old keys must no longer get in

        async def attempt(address, args):
            try:
                async with rpc(address, connection_args=args, timeout=3) as r:
                    await asyncio.wait_for(r.identity(), 5)
                return "admitted"
            except Exception as e:
                return "refused: %s" % type(e).__name__

        # A stranger's TLS: it trusts any server and has no certificate to show.
        no_cert = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        no_cert.check_hostname = False
        no_cert.verify_mode = ssl.CERT_NONE

        async def main():
            async with Scheduler(host="127.0.0.1", port=0, protocol="tls", dashboard=False,
                                 dashboard_address="127.0.0.1:0", security=tls.security(self.cdir)) as s:
                self.assertTrue(s.address.startswith("tls://"))
                plain = s.address.replace("tls://", "tcp://")
                return {
                    "keys": await attempt(s.address, tls.connection_args(self.cdir, s.address)),
                    "tls without a certificate": await attempt(s.address, {"ssl_context": no_cert}),
                    "tls with other keys": await attempt(s.address, Security.temporary().get_connection_args("client")),
                    "tcp": await attempt(plain, Security().get_connection_args("client")),
                    "old keys": await attempt(s.address, tls.connection_args(self.old, s.address)),
                }

        logging.disable(logging.CRITICAL)  # distributed logs each refused handshake; the runner reads this output
        try:
            got = asyncio.run(main())
        finally:
            logging.disable(logging.NOTSET)
        self.assertEqual(got["keys"], "admitted")
        for way in ("tls without a certificate", "tls with other keys", "tcp", "old keys"):
            self.assertTrue(got[way].startswith("refused"), "%s: %s" % (way, got[way]))


if __name__ == "__main__":
    unittest.main()


class DashboardDoorTest(unittest.TestCase):
    """The door in front of a secured cluster's dashboard: bytes pass for holders of the keys, nothing for others."""

    def setUp(self):
        self.base = tempfile.mkdtemp()
        self.cdir = os.path.join(self.base, "clusters", "door")
        os.makedirs(self.cdir)
        tls.make(self.cdir, "door")
        self.other = os.path.join(self.base, "clusters", "other")
        os.makedirs(self.other)
        tls.make(self.other, "other")  # keys of another cluster: a stranger's own

    def tearDown(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def run_door(self, client_context):
        from gadi_dask.dashboard_door import door_port, open_door

        async def page(reader, writer):
            await reader.readline()
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nthe dashboard")
            await writer.drain()
            writer.close()

        async def main():
            inner = await asyncio.start_server(page, "127.0.0.1", 0)
            door = await open_door("127.0.0.1", 0, inner.sockets[0].getsockname()[1], tls.server_context(self.cdir))
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", door_port(door), ssl=client_context)
                writer.write(b"GET /status HTTP/1.0\r\n\r\n")
                await writer.drain()
                return await asyncio.wait_for(reader.read(), 10)
            finally:
                door.close()
                inner.close()

        return asyncio.run(main())

    def test_the_cluster_s_keys_open_it(self):
        self.assertTrue(self.run_door(tls.client_context(self.cdir)).endswith(b"the dashboard"))

    def test_no_certificate_or_another_cluster_s_is_refused_at_the_handshake(self):
        def trusting(keys_of=None):  # a stranger who accepts any server, with no keys or with its own
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            if keys_of:
                context.load_cert_chain(*tls.paths(keys_of))
            return context

        for context in (trusting(), trusting(self.other)):
            try:
                answer = self.run_door(context)
            except (ssl.SSLError, ConnectionError, OSError):
                continue
            self.assertEqual(answer, b"", "not a byte of the dashboard")
