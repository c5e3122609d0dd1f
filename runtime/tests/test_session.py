"""The persistent session's pieces that need no Gadi: the names it accepts, what `persistent-sessions start` prints
(NCI's format), and the one quoting of the command ssh hands to the session's shell."""
import shlex
import unittest

from gadi_dask import session

# As NCI's page shows it: the id line, a blank line, the ssh line (indented).
REAL_OUTPUT = ("session 12345678-90ab-cdef-1234-567890abcdef running - connect using\n"
               "\n"
               "  ssh dask.abc123.ab12.ps.gadi.nci.org.au\n")


class ParseStart(unittest.TestCase):
    def test_the_real_format(self):
        self.assertEqual(session.parse_start(REAL_OUTPUT),
                         ("12345678-90ab-cdef-1234-567890abcdef", "dask.abc123.ab12.ps.gadi.nci.org.au"))

    def test_a_login_banner_around_it_is_noise(self):
        text = "Welcome to Gadi\n\n" + REAL_OUTPUT + "Have a nice day\n"
        self.assertEqual(session.parse_start(text)[1], "dask.abc123.ab12.ps.gadi.nci.org.au")

    def test_no_ssh_line(self):
        self.assertEqual(session.parse_start("persistent-sessions: quota exceeded\n"), (None, None))

    def test_an_ssh_line_with_more_than_a_host_is_not_taken(self):
        self.assertEqual(session.parse_start("  ssh host; rm -rf ~\n")[1], None)


class Names(unittest.TestCase):
    def test_good(self):
        self.assertEqual(session.check({"name": "dask-ps1", "project": "ab12"}), ("dask-ps1", "ab12"))

    def test_hostile_or_malformed_are_refused(self):
        for name, project in [("x;touch ~/pwned", "ab12"), ("1dask", "ab12"), ("-o", "ab12"), ("dask", "AB 12"),
                              ("dask", "ab12$(id)"), (None, "ab12"), ("dask", None), ("da.sk", "ab12"), ("", "ab12")]:
            with self.assertRaises(session.SessionError, msg=(name, project)):
                session.check({"name": name, "project": project})

    def test_host(self):
        self.assertEqual(session.host_of("dask", "ab12", "abc123"), "dask.abc123.ab12.ps.gadi.nci.org.au")


class Quoting(unittest.TestCase):
    def test_the_remote_command_is_read_back_word_for_word(self):
        words = ["bash", "-l", "/home/u/it's here/session.sh", "--name", "a b", "$(id)", "`x`", ";", "*"]
        argv = session.ssh_argv("dask.u.ab12.ps.gadi.nci.org.au", words)
        self.assertEqual(argv[:-2], ["ssh"] + session.SSH_OPTIONS)
        self.assertEqual(argv[-2], "dask.u.ab12.ps.gadi.nci.org.au")
        self.assertEqual(shlex.split(argv[-1]), words)


if __name__ == "__main__":
    unittest.main()
