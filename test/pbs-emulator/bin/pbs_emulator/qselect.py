"""qselect: the ids of the jobs that match, one per line (exit 0 also when none do, or the user is unknown)."""

import getopt
import sys

from .common import err
from .scheduler import schedule
from .state import Store
from .supervisor import launch

# OpenPBS's own usage text; only -N, -q, -s, -u and -x are emulated, the rest is refused with it.
QSELECT_USAGE = (
    "usage: qselect [-a [op]date_time] [-A account_string] [-c [op]interval] [-h hold_list] [-H] [-J]\n"
    "\t[-l resource_list] [-N name] [-p [op]priority] [-P project] [-q destination] [-r y|n]\n"
    "\t[-s states] [-t] [-T] [-u user_name] [-x]\n"
    "       qselect --version\n")
STATES = set("BEFHMQRSTUWX")


def qselect(cfg, argv):
    try:
        opts, operands = getopt.getopt(argv, "N:q:s:u:x")
    except getopt.GetoptError:
        err(QSELECT_USAGE)
        return 2
    name = queue = states = users = None
    history = False
    for opt, val in opts:
        if opt == "-N":
            name = val
        elif opt == "-q":
            queue = val.split("@")[0]
        elif opt == "-s":
            states = set(val)
            if not states <= STATES:
                err("qselect: illegal -s value\n")
                err(QSELECT_USAGE)
                return 2
        elif opt == "-u":
            # user[@host][,user[@host]...]; the host part does not narrow the match here.
            users = {u.split("@")[0] for u in val.split(",")}
        elif opt == "-x":
            history = True
    if operands:
        err(QSELECT_USAGE)
        return 2
    with Store(cfg) as store:
        launches = schedule(cfg, store)
        ids = [job["id"] for job in store.ordered()
               if (history or job["state"] != "F")
               and (states is None or job["state"] in states)
               and (name is None or job["name"] == name)
               and (queue is None or job["queue"] == queue)
               and (users is None or job["user"] in users)]
    launch(cfg, launches)
    sys.stdout.write("".join(i + "\n" for i in ids))
    return 0
