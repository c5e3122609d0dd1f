#!/usr/bin/python3
"""A PBS Pro (OpenPBS 23.06) emulator for tests: qsub, qstat and qdel over one state directory.

Jobs really run. qsub (or whichever command's scheduling pass starts a job) double-forks a supervisor in its own
session; the supervisor runs the script with bash as a login shell, enforces walltime, stages the
.o/.e files when the job ends and records the exit as the server would. What the commands print, their exit codes
and the JSON layout follow real PBS output (the project's pbs-samples). Standard library only: it runs on the
cluster side as an unprivileged user, and the bin directory may be copied anywhere.
"""

import fcntl
import getopt
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import sys
import time
import traceback

PBS_VERSION = "23.06.06"
LINE_LIMIT = 78
MAX_ARRAY_SIZE = 10000
# Gadi's longest walltime in any queue; above it Gadi's qsub exits 32 without a word.
GADI_MAX_WALLTIME = 48 * 3600
GADI_REJECT_EXIT = 32

# The commands exit with a PBS error number; exit() keeps its low 8 bits (15001 -> 153, 15139 -> 35).
PBSE_UNKJOBID = 15001
PBSE_BADATVAL = 15014
PBSE_BADUSER = 15023
PBSE_INVALJOBRESC = 15109
PBSE_HISTJOBID = 15139

# Substates as the server reports them.
SUB_QUEUED, SUB_HELD, SUB_DEPHOLD, SUB_RUNNING, SUB_EXITING, SUB_BEGUN = 10, 20, 22, 42, 50, 70
SUB_DELETED, SUB_FINISHED, SUB_FAILED = 91, 92, 93

# Host-level resources: the server builds the default select from them, and mixing them with select is an error.
HOST_LEVEL = ("accelerator_memory", "hbmem", "jobfs", "mem", "mpiprocs", "naccelerators", "ncpus", "ngpus",
              "nmics", "ompthreads", "vmem")
# Consumable ones appear in exec_vnode (sizes in kb) and are summed from select into Resource_List.
CONSUMABLE = ("accelerator_memory", "hbmem", "jobfs", "mem", "naccelerators", "ncpus", "ngpus", "nmics", "vmem")
SIZE_RESOURCES = ("accelerator_memory", "file", "hbmem", "jobfs", "mem", "pmem", "pvmem", "vmem")
INT_RESOURCES = ("mpiprocs", "naccelerators", "ncpus", "ngpus", "nmics", "nodect", "ompthreads")
TIME_RESOURCES = ("cput", "pcput", "walltime", "min_walltime", "max_walltime", "soft_walltime")

QSUB_USAGE = (
    "usage: qsub [-a date_time] [-A account_string] [-c interval]\n"
    "\t[-C directive_prefix] [-e path] [-f ] [-h ] [-I [-X]] [-j oe|eo] [-J X-Y[:Z]]\n"
    "\t[-k keep] [-l resource_list] [-m mail_options] [-M user_list]\n"
    "\t[-N jobname] [-o path] [-p priority] [-P project] [-q queue] [-r y|n]\n"
    "\t[-R o|e|oe] [-S path] [-u user_list] [-W otherattributes=value...]\n"
    "\t[-v variable_list] [-V ] [-z] [script | -- command [arg1 ...]]\n"
    "       qsub --version\n")
QSTAT_USAGE = (
    "usage: \n"
    "qstat [-f] [-J] [-p] [-t] [-x] [-E] [-F format | -w] [-D delim] [ job_identifier... | destination... ]\n"
    "qstat [-a|-i|-r|-H|-T] [-J] [-t] [-u user] [-n] [-s] [-G|-M] [-1] [-w]\n"
    "\t[ job_identifier... | destination... ]\n"
    "qstat -Q [-f] [-F format] [-D delim] [ destination... ]\n"
    "qstat -q [-G|-M] [ destination... ]\n"
    "qstat -B [-f] [-F format] [-D delim] [ server_name... ]\n"
    "qstat --version\n")
QDEL_USAGE = "usage:\n\tqdel [-W force|suppress_email=X] [-x] job_identifier...\n\tqdel --version\n"


class Exit(Exception):
    """Leave a command with this status after printing what was already printed."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def pbs_exit(code):
    return code & 0xFF


def err(text):
    sys.stderr.write(text)
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------------- configuration

class Config:
    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.env = env
        self.home = env.get("PBS_EMULATOR_HOME") or os.path.join(os.path.expanduser("~"), ".pbs-emulator")
        self.server = env.get("PBS_EMULATOR_SERVER") or "gadi-pbs"
        self.node = env.get("PBS_EMULATOR_NODE") or "gadi-cpu-clx-0001"
        self.default_queue = env.get("PBS_EMULATOR_DEFAULT_QUEUE") or "workq"
        try:
            pw = pwd.getpwuid(os.getuid())
            self.user, self.user_home = pw.pw_name, pw.pw_dir
        except KeyError:
            self.user = env.get("LOGNAME") or env.get("USER") or str(os.getuid())
            self.user_home = env.get("HOME") or "/"
        # A fully qualified lookup could stall on an offline machine's resolver; the plain host name is enough.
        self.submit_host = env.get("PBS_EMULATOR_SUBMIT_HOST") or socket.gethostname()
        self.kill_delay = _float(env.get("PBS_EMULATOR_KILL_DELAY"), 10.0)
        self.node_ncpus = _int(env.get("PBS_EMULATOR_NCPUS"), None)
        self.allow_root = env.get("PBS_EMULATOR_ALLOW_ROOT") == "1"
        self.first_seq = _int(env.get("PBS_EMULATOR_FIRST_SEQ"), 1)
        self.max_seq = _int(env.get("PBS_EMULATOR_MAX_SEQ"), 9999999)
        if self.first_seq > self.max_seq:
            self.max_seq = 999999999999
        self.history_seconds = _int(env.get("PBS_EMULATOR_HISTORY_SECONDS"), 14 * 86400)

    @property
    def owner(self):
        return "%s@%s" % (self.user, self.submit_host)


def _int(text, default):
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


def _float(text, default):
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default


# ----------------------------------------------------------------------------------------------------------- store

class Store:
    """The server's state: one JSON file per job and a sequence counter, all changed under one exclusive flock."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.root = cfg.home
        self.jobs_dir = os.path.join(self.root, "jobs")
        self.spool_dir = os.path.join(self.root, "spool")
        self.jobfs_dir = os.path.join(self.root, "jobfs")
        for d in (self.root, self.jobs_dir, self.spool_dir, self.jobfs_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.lock_fd = None
        self.jobs = {}
        self.dirty = set()
        self.removed = set()

    def __enter__(self):
        self.lock_fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        self.jobs = {}
        for name in os.listdir(self.jobs_dir):
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.jobs_dir, name)) as f:
                    job = json.load(f)
                self.jobs[int(job["seq"])] = job
            except (OSError, ValueError, KeyError):
                continue
        self._server = self._read_server()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None or issubclass(exc_type, Exit):
                self.flush()
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            os.close(self.lock_fd)
            self.lock_fd = None
        return False

    def flush(self):
        for seq in sorted(self.dirty):
            if seq in self.jobs:
                path = os.path.join(self.jobs_dir, "%d.json" % seq)
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.jobs[seq], f)
                os.replace(tmp, path)
        for seq in self.removed:
            for suffix in (".json", ".SC"):
                try:
                    os.unlink(os.path.join(self.jobs_dir, "%d%s" % (seq, suffix)))
                except FileNotFoundError:
                    pass
        self.dirty.clear()
        self.removed.clear()

    def touch(self, job):
        self.dirty.add(job["seq"])

    def remove(self, job):
        self.jobs.pop(job["seq"], None)
        self.dirty.discard(job["seq"])
        self.removed.add(job["seq"])

    def _read_server(self):
        path = os.path.join(self.root, "server.json")
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        # A capacity given once in the environment holds for every later command, whatever its environment.
        if self.cfg.node_ncpus is not None and data.get("node_ncpus") != self.cfg.node_ncpus:
            data["node_ncpus"] = self.cfg.node_ncpus
            self._write_server(data)
        return data

    def _write_server(self, data):
        path = os.path.join(self.root, "server.json")
        with open(path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)

    @property
    def node_ncpus(self):
        return self._server.get("node_ncpus")

    def next_seq(self):
        path = os.path.join(self.root, "seq")
        try:
            with open(path) as f:
                last = int(f.read().strip())
            seq = last + 1
        except (OSError, ValueError):
            seq = self.cfg.first_seq
        while True:
            if seq > self.cfg.max_seq:
                seq = 0
            if seq not in self.jobs:
                break
            seq += 1
        with open(path + ".tmp", "w") as f:
            f.write(str(seq))
        os.replace(path + ".tmp", path)
        return seq

    def script_path(self, seq):
        return os.path.join(self.jobs_dir, "%d.SC" % seq)

    def ordered(self):
        return [self.jobs[s] for s in sorted(self.jobs)]


# ------------------------------------------------------------------------------------------------ value formatting

def fmt_hms(seconds):
    seconds = max(0, int(seconds))
    return "%02d:%02d:%02d" % (seconds // 3600, (seconds // 60) % 60, seconds % 60)


def parse_time(text):
    """Seconds in a PBS time value: [[HH:]MM:]SS[.frac]; None when malformed."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(p == "" for p in parts):
        return None
    total = 0
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if not (re.fullmatch(r"\d+(\.\d*)?", part) if last else part.isdigit()):
            return None
        total = total * 60 + (float(part) if last else int(part))
    return int(total)


SIZE_RE = re.compile(r"(\d+)([kmgtp]?)([bw]?)", re.I)
SIZE_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50}


def parse_size(text):
    m = SIZE_RE.fullmatch(text.strip())
    if not m:
        return None
    number, unit, word = int(m.group(1)), m.group(2).lower(), m.group(3).lower()
    return number, unit, word or "b"


def norm_size(text):
    number, unit, word = parse_size(text)
    return "%d%s%s" % (number, unit, word)


def size_bytes(text):
    number, unit, word = parse_size(text)
    return (number << SIZE_SHIFT[unit]) * (8 if word == "w" else 1)


def size_kb(text):
    return "%dkb" % -(-size_bytes(text) // 1024)


def sum_sizes(values):
    """Sum of size values, written in the smallest unit among them as the server does."""
    parsed = [parse_size(v) for v in values]
    unit = min((p[1] for p in parsed), key=lambda u: SIZE_SHIFT[u])
    total = sum(size_bytes(v) for v in values) >> SIZE_SHIFT[unit]
    return "%d%sb" % (total, unit)


def ctime_str(epoch):
    return time.ctime(epoch)


def short_when(epoch):
    return time.strftime("%a %b %d at %H:%M", time.localtime(epoch))


def compress_indices(indices):
    """'1-3', '5', '2-8:2', '1,4-6': the way the server writes a list of array indices."""
    out = []
    i = 0
    while i < len(indices):
        j = i
        if i + 1 < len(indices):
            step = indices[i + 1] - indices[i]
            while j + 1 < len(indices) and indices[j + 1] - indices[j] == step:
                j += 1
        if j == i:
            out.append(str(indices[i]))
            i += 1
        elif step == 1:
            out.append("%d-%d" % (indices[i], indices[j]))
            i = j + 1
        else:
            out.append("%d-%d:%d" % (indices[i], indices[j], step))
            i = j + 1
    return ",".join(out)


# ----------------------------------------------------------------------------------------------- cJSON-style output

class JsonError(Exception):
    pass


def _json_ws(s, i):
    while i < len(s) and ord(s[i]) <= 32:
        i += 1
    return i


NUM_PREFIX = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)")


def _json_value(s, i):
    if s.startswith("null", i):
        return None, i + 4
    if s.startswith("false", i):
        return False, i + 5
    if s.startswith("true", i):
        return True, i + 4
    if i < len(s) and s[i] == '"':
        return _json_string(s, i)
    if i < len(s) and (s[i] == "-" or s[i].isdigit()):
        j = i
        while j < len(s) and s[j] in "0123456789+-eE.":
            j += 1
        m = NUM_PREFIX.match(s[i:j])
        if not m:
            raise JsonError()
        return float(m.group(0)), i + m.end()
    if i < len(s) and s[i] == "[":
        items = []
        i = _json_ws(s, i + 1)
        if i < len(s) and s[i] == "]":
            return items, i + 1
        while True:
            value, i = _json_value(s, _json_ws(s, i))
            items.append(value)
            i = _json_ws(s, i)
            if i < len(s) and s[i] == ",":
                i += 1
                continue
            if i < len(s) and s[i] == "]":
                return items, i + 1
            raise JsonError()
    if i < len(s) and s[i] == "{":
        obj = []
        i = _json_ws(s, i + 1)
        if i < len(s) and s[i] == "}":
            return JsonObject(obj), i + 1
        while True:
            i = _json_ws(s, i)
            if i >= len(s) or s[i] != '"':
                raise JsonError()
            key, i = _json_string(s, i)
            i = _json_ws(s, i)
            if i >= len(s) or s[i] != ":":
                raise JsonError()
            value, i = _json_value(s, _json_ws(s, i + 1))
            obj.append((key, value))
            i = _json_ws(s, i)
            if i < len(s) and s[i] == ",":
                i += 1
                continue
            if i < len(s) and s[i] == "}":
                return JsonObject(obj), i + 1
            raise JsonError()
    raise JsonError()


def _json_string(s, i):
    out = []
    i += 1
    escapes = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "/": "/"}
    while i < len(s):
        ch = s[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(s):
                raise JsonError()
            nxt = s[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", s[i + 2:i + 6] or ""):
                out.append(chr(int(s[i + 2:i + 6], 16)))
                i += 6
                continue
            if nxt not in escapes:
                raise JsonError()
            out.append(escapes[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise JsonError()


class JsonObject(list):
    """An ordered JSON object that may repeat keys, as cJSON objects may."""


def parse_value(raw):
    """What 23.06's qstat puts in its JSON for an attribute value: the value itself when it parses as JSON
    (so "8" becomes 8 and "true" becomes true), otherwise the string."""
    try:
        value, end = _json_value(raw, _json_ws(raw, 0))
        if _json_ws(raw, end) != len(raw):
            return raw
        return value
    except JsonError:
        return raw


def json_number(d):
    if d != d or d in (float("inf"), float("-inf")):
        return "null"
    vi = 2147483647 if d >= 2147483647 else -2147483648 if d <= -2147483648 else int(d)
    if d == vi:
        return "%d" % vi
    text = "%1.15g" % d
    if float(text) != d:
        text = "%1.17g" % d
    return text


def json_string(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_dump(value, depth=0):
    """cJSON_Print's layout: tabs, '"key":<tab>value', empty objects as '{' newline '}'."""
    if isinstance(value, (JsonObject, dict)):
        items = list(value.items()) if isinstance(value, dict) else list(value)
        if not items:
            return "{\n" + "\t" * depth + "}"
        inner = ",\n".join("\t" * (depth + 1) + json_string(k) + ":\t" + json_dump(v, depth + 1) for k, v in items)
        return "{\n" + inner + "\n" + "\t" * depth + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_dump(v, depth + 1) for v in value) + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json_number(float(value))
    return json_string(str(value))


# ------------------------------------------------------------------------------------------------ variable lists

def esc_commas(value):
    return value.replace(",", "\\,")


def copy_env_value(value, quote_all):
    """Escape a value for Variable_List as qsub does: commas and quotes, and doubled backslashes."""
    out = []
    quote = None
    i = 0
    while i < len(value):
        ch = value[i]
        if ch in "\"'":
            if quote:
                if ch == quote:
                    quote = None
                else:
                    out.append("\\" + ch)
            elif quote_all:
                out.append("\\" + ch)
            else:
                quote = ch
        elif ch == "\\":
            out.append(ch if value[i + 1:i + 2] == "," else "\\\\")
        elif ch == ",":
            if quote or quote_all:
                out.append("\\,")
            elif out and out[-1].endswith("\\"):
                out.append(ch)
            else:
                break
        else:
            out.append(ch)
        i += 1
    if quote:
        raise ValueError("unterminated quote")
    return "".join(out)


def split_quoted_commas(text):
    """Comma-separated tokens, keeping commas that sit inside quotes or follow a backslash."""
    tokens, cur, quote, i = [], [], None, 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            quote = None if quote == ch else (quote or ch)
        elif ch == "\\" and i + 1 < len(text):
            cur.append(ch)
            i += 1
            ch = text[i]
        elif ch == "," and not quote:
            tokens.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    tokens.append("".join(cur))
    return tokens


def varlist_pairs_display(raw):
    """Variable_List split as qstat -F json does: at unescaped commas, then at the first '='."""
    pairs = []
    i = 0
    while i < len(raw):
        buf = []
        while i < len(raw) and raw[i] != ",":
            if raw[i] == "\\" and raw[i + 1:i + 2] == ",":
                i += 1
            buf.append(raw[i])
            i += 1
        entry = "".join(buf)
        key, eq, value = entry.partition("=")
        pairs.append((key, value if eq else None))
        i += 1
    return pairs


def varlist_env(raw):
    """Variable_List decoded for the job's environment: backslash escapes undone."""
    env = []
    buf = []
    i = 0
    while i <= len(raw):
        ch = raw[i] if i < len(raw) else ","
        if ch == "\\" and i + 1 < len(raw):
            buf.append(raw[i + 1])
            i += 2
            continue
        if ch == ",":
            entry = "".join(buf)
            if entry:
                key, eq, value = entry.partition("=")
                if eq:
                    env.append((key, value))
            buf = []
        else:
            buf.append(ch)
        i += 1
    return env


# ------------------------------------------------------------------------------------------------------ qsub parsing

class OptError(Exception):
    """An option error: qsub prints the message (if any) and its usage, and exits 2."""


def make_argv(line):
    """Split a directive line like qsub does: quotes group, a backslash takes the next character."""
    args, buf, i, started = [], [], 0, False
    line = line.strip()
    while i < len(line):
        ch = line[i]
        if ch in "\"'":
            end = line.find(ch, i + 1)
            if end < 0:
                raise ValueError("qsub: unmatched %s\n" % ch)
            buf.append(line[i + 1:end])
            started = True
            i = end + 1
        elif ch == "\\" and i + 1 < len(line):
            buf.append(line[i + 1])
            started = True
            i += 2
        elif ch.isspace():
            if started:
                args.append("".join(buf))
                buf, started = [], False
            i += 1
        else:
            buf.append(ch)
            started = True
            i += 1
    if started:
        args.append("".join(buf))
    return args


def parse_equal_string(text):
    """name=value[,name=value...] for -W: a value runs up to the comma before the next '='."""
    pairs = []
    i = 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            raise OptError("")
        key = text[i:eq].strip()
        if not key:
            raise OptError("")
        j = eq + 1
        if j < len(text) and text[j] in "\"'":
            end = text.find(text[j], j + 1)
            if end < 0:
                raise OptError("")
            value = text[j + 1:end]
            i = end + 1
            if i < len(text) and text[i] == ",":
                i += 1
        else:
            nxt = text.find("=", j)
            end = len(text) if nxt < 0 else text.rfind(",", j, nxt)
            if end < j:
                end = len(text)
            value = text[j:end]
            i = end + 1
        pairs.append((key, value))
    return pairs


def parse_resources(text):
    """[(name, value)] from one -l argument: name=value pairs separated by commas, quotes allowed."""
    out = []
    for token in split_quoted_commas(text):
        name, eq, value = token.partition("=")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            raise OptError("qsub: illegal -l value\n")
        if eq:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            if value == "":
                raise OptError("qsub: illegal -l value\n")
        else:
            # Gadi's `-l wd` carries no value; Gadi records it as 1.
            value = "1"
        out.append((name, value))
    return out


QSUB_SHORTOPTS = "a:A:c:C:e:fhIj:J:k:l:m:M:N:o:p:q:r:R:S:u:v:VW:XzP:"
OPTS_WITH_ARG = {"-" + c for c in re.findall(r"(\w):", QSUB_SHORTOPTS)}


class QsubOptions:
    """Options with PBS's precedence: the command line beats directives; among directives the last one wins,
    except resources, where the first value given for a resource stays."""

    CMDLINE, DIRECTIVE = 3, 2

    def __init__(self):
        self.values = {}
        self.prio = {}
        self.resources = []
        self.w_attrs = {}

    def set(self, key, value, passet):
        if self.prio.get(key, 0) <= passet:
            self.prio[key] = passet
            self.values[key] = value

    def get(self, key, default=None):
        return self.values.get(key, default)

    def has(self, key):
        return key in self.values

    def add_resources(self, pairs, passet):
        for name, value in pairs:
            for i, (n, _v, p) in enumerate(self.resources):
                if n == name:
                    if passet == self.CMDLINE or p < passet:
                        self.resources[i] = (name, value, passet)
                    break
            else:
                self.resources.append((name, value, passet))

    def process(self, args, passet):
        """Returns the operands after the options."""
        try:
            opts, rest = getopt.getopt(args, QSUB_SHORTOPTS)
        except getopt.GetoptError as e:
            if e.opt and "requires argument" in e.msg:
                raise OptError("qsub: option requires an argument -- '%s'\n" % e.opt)
            raise OptError("qsub: invalid option -- '%s'\n" % (e.opt or "?"))
        for opt, val in opts:
            o = opt[1]
            if o == "l":
                self.add_resources(parse_resources(val), passet)
            elif o == "W":
                val = val.strip()
                if not val:
                    raise OptError("qsub: illegal -W value\n")
                try:
                    pairs = parse_equal_string(val)
                except OptError:
                    raise OptError("qsub: illegal -W value\n")
                for key, value in pairs:
                    if self.prio.get("W:" + key, 0) <= passet:
                        self.prio["W:" + key] = passet
                        self.w_attrs[key] = value
            elif o == "J":
                self.set("J", val, passet)
            elif o == "r":
                if val not in ("y", "n"):
                    raise OptError("qsub: illegal -r value\n")
                self.set("r", val, passet)
            elif o in "IX":
                raise OptError("qsub: interactive jobs are not supported by this emulator\n")
            elif o == "h":
                self.set("h", "u", passet)
            elif o in "Vzf":
                self.set(o, True, passet)
            else:
                self.set(o, val, passet)
        return rest


# ----------------------------------------------------------------------------------------------------------- qsub

def read_script(cfg, path, prefix, opts):
    """The script text, with its directives applied; directives stop at the first command line."""
    if path in (None, "-"):
        if sys.stdin.isatty():
            sys.stdout.write("Job script will be read from standard input. Submit with CTRL+D.\n")
            sys.stdout.flush()
        text = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    else:
        try:
            st = os.stat(path)
        except OSError as e:
            err("qsub: script file:: %s\n" % os.strerror(e.errno))
            raise Exit(1)
        if not stat.S_ISREG(st.st_mode):
            err("qsub: script not a file\n")
            raise Exit(1)
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            err("qsub: opening script file:: %s\n" % os.strerror(e.errno))
            raise Exit(8)
    lines = text.splitlines(True)
    executable = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if not executable and prefix and stripped.startswith(prefix):
            directive = stripped[len(prefix):].rstrip("\r\n")
            while directive.endswith("\\") and i + 1 < len(lines):
                i += 1
                directive = directive[:-1] + lines[i].rstrip("\r\n")
            try:
                args = make_argv(directive)
            except ValueError as e:
                err(str(e))
                raise Exit(1)
            try:
                rest = opts.process(args, QsubOptions.DIRECTIVE)
                if rest:
                    raise OptError("")
            except OptError as e:
                err(str(e) + "qsub: directive error: " + "".join(a + " " for a in args) + "\n")
                raise Exit(1)
        elif not executable and not (line.startswith(":") or line.startswith("#!")):
            if stripped.strip() and not stripped.startswith("#"):
                executable = True
        i += 1
    return text


def validate_resources(pairs):
    """Normalised values, or raise (name) for a value the server would refuse."""
    out = {}
    for name, value in pairs:
        if name in SIZE_RESOURCES:
            if parse_size(value) is None:
                raise ValueError(name)
            value = norm_size(value)
        elif name in INT_RESOURCES:
            if not re.fullmatch(r"\d+", value):
                raise ValueError(name)
            value = str(int(value))
        elif name in TIME_RESOURCES:
            seconds = parse_time(value)
            if seconds is None:
                raise ValueError(name)
            value = fmt_hms(seconds)
        out[name] = value
    return out


def parse_select(text):
    """[(count, [(res, value)])] from a select statement, or None if malformed."""
    chunks = []
    for part in text.split("+"):
        items = part.split(":")
        count = 1
        if items and re.fullmatch(r"\d+", items[0]):
            count = int(items.pop(0))
        pairs = []
        for item in items:
            name, eq, value = item.partition("=")
            if not eq or not name or value == "":
                return None
            pairs.append((name, value))
        if count < 1:
            return None
        chunks.append((count, pairs))
    return chunks


def build_resource_list(resources):
    """Resource_List as the server completes it: select, nodect, place and the job-wide sums."""
    rl = dict(resources)
    if "select" in rl:
        chunks = parse_select(rl["select"])
        if chunks is None:
            raise ValueError("select")
        nodect, ncpus, sums = 0, 0, {}
        for count, pairs in chunks:
            nodect += count
            chunk = dict(pairs)
            try:
                ncpus += count * int(chunk.get("ncpus", "1"))
                for name in CONSUMABLE:
                    if name in chunk and name != "ncpus":
                        sums.setdefault(name, []).extend([chunk[name]] * count)
            except ValueError:
                raise ValueError("select")
        rl["ncpus"] = str(ncpus)
        rl["nodect"] = str(nodect)
        for name, values in sums.items():
            if name in SIZE_RESOURCES:
                if any(parse_size(v) is None for v in values):
                    raise ValueError("select")
                rl[name] = sum_sizes(values)
            else:
                rl[name] = str(sum(int(v) for v in values))
        rl.setdefault("place", "free")
        chunk_spec = chunks
    else:
        chunk = [(n, rl[n]) for n in sorted(rl) if n in HOST_LEVEL]
        if "ncpus" not in rl:
            rl["ncpus"] = "1"
            chunk = sorted(chunk + [("ncpus", "1")])
        rl["select"] = "1:" + ":".join("%s=%s" % p for p in chunk)
        rl["nodect"] = "1"
        rl.setdefault("place", "pack")
        chunk_spec = [(1, chunk)]
    return {k: rl[k] for k in sorted(rl)}, chunk_spec


def exec_vnode_for(node, chunk_spec):
    parts = []
    for count, pairs in chunk_spec:
        items = []
        for name, value in pairs:
            if name not in CONSUMABLE:
                continue
            items.append("%s=%s" % (name, size_kb(value) if name in SIZE_RESOURCES else value))
        if not any(p[0] == "ncpus" for p in pairs):
            items.append("ncpus=1")
        parts.extend(["(%s:%s)" % (node, ":".join(items))] * count)
    return "+".join(parts)


DEPEND_TYPES = ("after", "afterok", "afternotok", "afterany", "before", "beforeok", "beforenotok", "beforeany", "on")


def norm_jobid(cfg, text):
    """(seq, index) for '12', '12.gadi-pbs', '12[]', '12[3].host'; index None for a plain job, '' for an
    array as a whole. None when it is not a job identifier."""
    m = re.fullmatch(r"(\d+)(\[(\d*)\])?(\..*)?", text.strip())
    if not m:
        return None
    index = None if m.group(2) is None else m.group(3)
    return int(m.group(1)), index


def id_text(cfg, seq, index):
    if index is None:
        return "%d.%s" % (seq, cfg.server)
    return "%d[%s].%s" % (seq, index, cfg.server)


def parse_depend(cfg, text):
    """[(type, [(seq, index)])], or None if malformed."""
    out = []
    for group in text.split(","):
        kind, _, rest = group.partition(":")
        if kind not in DEPEND_TYPES or not rest:
            return None
        if kind == "on":
            if not rest.isdigit():
                return None
            out.append((kind, rest))
            continue
        ids = []
        for item in rest.split(":"):
            ref = norm_jobid(cfg, item.split("@")[0])
            if ref is None:
                return None
            ids.append(ref)
        out.append((kind, ids))
    return out


def depend_text(cfg, parsed):
    groups = []
    for kind, ids in parsed:
        if kind == "on":
            groups.append("on:%s" % ids)
        else:
            groups.append(kind + ":" + ":".join("%s@%s" % (id_text(cfg, s, i), cfg.server) for s, i in ids))
    return ",".join(groups)


def parse_array_range(text):
    m = re.fullmatch(r"(\d+)-(\d+)(?::(\d+))?", text.strip())
    if not m:
        return None
    start, end, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    if end <= start or step < 1:
        return None
    indices = list(range(start, end + 1, step))
    if len(indices) > MAX_ARRAY_SIZE:
        return None
    return indices


def abs_out_path(cfg, value, cwd):
    """host:path for -o/-e: a relative path is taken from the submission directory."""
    host, sep, path = value.partition(":")
    if not sep or "/" in host:
        host, path = cfg.submit_host, value
    if not path.startswith("/"):
        base = cwd if host == cfg.submit_host else cfg.user_home
        trailing = "/" if path.endswith("/") else ""
        path = os.path.normpath(os.path.join(base, path)) + trailing
    return "%s:%s" % (host, path)


def build_variable_list(cfg, opts, cwd, queue):
    env = os.environ
    items = ["PBS_O_HOME=" + esc_commas(env.get("HOME") or "/")]
    for var in ("LANG", "LOGNAME", "PATH", "MAIL", "SHELL"):
        if env.get(var) is not None:
            items.append("PBS_O_%s=%s" % (var, esc_commas(env[var])))
    items.append("PBS_O_INTERACTIVE_AUTH_METHOD=resvport")
    items.append("PBS_O_INTERACTIVE_ENCRYPT_METHOD=")
    if env.get("TZ") is not None:
        items.append("PBS_O_TZ=" + esc_commas(env["TZ"]))
    items.append("PBS_O_WORKDIR=" + esc_commas(cwd))
    items.append("PBS_O_SYSTEM=" + os.uname().sysname)
    if opts.has("v"):
        for token in split_quoted_commas(opts.get("v")):
            if token == "":
                continue
            name, eq, value = token.partition("=")
            if name.startswith("PBS_O_"):
                continue
            try:
                if eq:
                    items.append("%s=%s" % (name, copy_env_value(value, False)))
                elif env.get(name) is not None:
                    items.append("%s=%s" % (name, copy_env_value(env[name], True)))
                else:
                    raise ValueError(name)
            except ValueError:
                err("qsub: cannot send environment with the job\n")
                raise Exit(1)
    if opts.get("V"):
        for name, value in env.items():
            if not name.startswith("PBS_O_"):
                items.append("%s=%s" % (name, copy_env_value(value, True)))
    items.append("PBS_O_QUEUE=" + queue)
    items.append("PBS_O_HOST=" + cfg.submit_host)
    return ",".join(items)


def qsub(cfg, argv):
    if argv == ["--version"]:
        sys.stdout.write("pbs_version = %s\n" % PBS_VERSION)
        return 0
    opts = QsubOptions()
    try:
        rest = opts.process(argv, QsubOptions.CMDLINE)
    except OptError as e:
        err(str(e) + QSUB_USAGE)
        return 2
    command = None
    script_arg = None
    # getopt eats the "--" that introduces an executable; look at what came just before the operands.
    consumed = len(argv) - len(rest)
    if consumed > 0 and argv[consumed - 1] == "--" and not (consumed > 1 and argv[consumed - 2] in OPTS_WITH_ARG):
        if not rest:
            err(QSUB_USAGE)
            return 2
        command = rest
    elif rest:
        if len(rest) != 1:
            err(QSUB_USAGE)
            return 2
        script_arg = rest[0]
    prefix = opts.get("C") if opts.has("C") else os.environ.get("PBS_DPREFIX", "#PBS")
    cwd = os.environ.get("PWD")
    try:
        if not cwd or os.stat(cwd) != os.stat("."):
            cwd = os.getcwd()
    except OSError:
        cwd = os.getcwd()
    script_text = None
    if command is None:
        script_text = read_script(cfg, script_arg, prefix, opts)
    name = opts.get("N")
    if name is None:
        name = "STDIN" if command is not None or script_arg in (None, "-") else os.path.basename(script_arg)
    elif not name or len(name) > 236 or re.search(r"\s", name):
        err("qsub: illegal -N value\n" + QSUB_USAGE)
        return 2

    if os.getuid() == 0 and not cfg.allow_root:
        err("qsub: Bad UID for job execution\n")
        return pbs_exit(PBSE_BADUSER)

    raw_resources = [(n, v) for n, v, _p in opts.resources]
    try:
        resources = validate_resources(raw_resources)
    except ValueError as e:
        err("qsub: Illegal attribute or resource value Resource_List.%s\n" % e.args[0])
        return pbs_exit(PBSE_BADATVAL)
    if "walltime" in resources and parse_time(resources["walltime"]) > GADI_MAX_WALLTIME:
        return GADI_REJECT_EXIT

    indices = None
    if opts.has("J"):
        indices = parse_array_range(opts.get("J").split("%")[0])
        if indices is None:
            err("qsub: illegal -J value\n" + QSUB_USAGE)
            return 2
    depend = None
    if "depend" in opts.w_attrs:
        depend = parse_depend(cfg, opts.w_attrs["depend"])
        if depend is None:
            err("qsub: illegal -W value\n" + QSUB_USAGE)
            return 2
    umask = 0o077
    if "umask" in opts.w_attrs:
        if not re.fullmatch(r"[0-7]{1,4}", opts.w_attrs["umask"]):
            err("qsub: illegal -W value\n" + QSUB_USAGE)
            return 2
        umask = int(opts.w_attrs["umask"], 8)
    join = opts.get("j", "n")
    if join not in ("oe", "eo", "n"):
        err("qsub: illegal -j value\n" + QSUB_USAGE)
        return 2

    destination = opts.get("q") or ""
    queue = destination.split("@")[0] or cfg.default_queue
    variable_list = build_variable_list(cfg, opts, cwd, destination.split("@")[0] or cfg.default_queue)

    with Store(cfg) as store:
        mixed = None
        if "select" in resources or "place" in resources:
            mixed = next((n for n, _v in raw_resources if n in HOST_LEVEL), None)
        if mixed is not None:
            store.next_seq()  # the server numbers the request before refusing it
            err('qsub: "-lresource=" cannot be used with "select" or "place", resource is: %s\n' % mixed)
            raise Exit(pbs_exit(PBSE_INVALJOBRESC))
        try:
            resource_list, chunk_spec = build_resource_list(resources)
        except ValueError as e:
            err("qsub: Illegal attribute or resource value Resource_List.%s\n" % e.args[0])
            raise Exit(pbs_exit(PBSE_BADATVAL))
        if depend:
            for kind, ids in depend:
                if kind == "on":
                    continue
                for seq, index in ids:
                    target = store.jobs.get(seq)
                    if target is None or (index is None) != (target.get("array") is None):
                        err("qsub: Unknown Job Id %s\n" % id_text(cfg, seq, index))
                        raise Exit(pbs_exit(PBSE_UNKJOBID))

        seq = store.next_seq()
        now = int(time.time())
        job_id = id_text(cfg, seq, "" if indices else None)
        suffix = ".^array_index^" if indices else ""
        out_path = abs_out_path(cfg, opts.get("o"), cwd) if opts.has("o") else \
            "%s:%s/%s.o%d%s" % (cfg.submit_host, cwd, name, seq, suffix)
        err_path = abs_out_path(cfg, opts.get("e"), cwd) if opts.has("e") else \
            "%s:%s/%s.e%d%s" % (cfg.submit_host, cwd, name, seq, suffix)
        hold = "u" if opts.get("h") else "n"
        dep_holds = bool(depend and any(k.startswith("after") for k, _ in depend))
        if dep_holds and hold == "n":
            hold = "s"
        job = {
            "seq": seq, "id": job_id, "name": name, "owner": cfg.owner, "user": cfg.user,
            "submit_host": cfg.submit_host, "queue": queue, "server": cfg.server,
            "ctime": now, "qtime": now, "mtime": now,
            "hold": hold, "join": join, "keep": opts.get("k", "n"), "mail_points": opts.get("m", "a"),
            "mail_users": opts.get("M"), "priority": opts.get("p", "0"),
            "rerunable": "True" if opts.get("r", "y") == "y" else "False", "checkpoint": opts.get("c", "u"),
            "account": opts.get("A"), "shell": opts.get("S"), "group_list": opts.w_attrs.get("group_list"),
            "output_path": out_path, "error_path": err_path,
            "resources": resource_list, "chunks": chunk_spec, "variable_list": variable_list,
            "submit_args": " ".join(argv), "project": opts.get("P") or "_pbs_project_default",
            "depend": depend, "cwd": cwd, "home": cfg.user_home, "command": command, "umask": umask,
            "kill_delay": cfg.kill_delay, "array": None, "subjobs": None, "node": cfg.node,
        }
        if hold == "n":
            job["etime"] = now
        job["state"] = "H" if hold != "n" else "Q"
        job["substate"] = SUB_HELD if hold == "u" else SUB_DEPHOLD if hold == "s" else SUB_QUEUED
        if indices:
            max_run = opts.get("J").split("%")[1] if "%" in opts.get("J") else None
            job["array"] = {"range": opts.get("J").split("%")[0], "indices": indices,
                            "max_run": int(max_run) if max_run and max_run.isdigit() else None}
            job["subjobs"] = {str(i): {"index": i, "state": "Q", "substate": SUB_QUEUED, "mtime": now}
                              for i in indices}
        if script_text is not None:
            path = store.script_path(seq)
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(script_text)
            os.chmod(path, 0o700)
        store.jobs[seq] = job
        store.touch(job)
        if depend:
            add_reverse_depends(cfg, store, job)
        launches = schedule(cfg, store)
    launch(cfg, launches)
    if not opts.get("z"):
        sys.stdout.write(job_id + "\n")
    return 0


def add_reverse_depends(cfg, store, job):
    """The server records the other half of a dependency on the job depended upon (beforeok: ...)."""
    for kind, ids in job["depend"]:
        if not kind.startswith("after"):
            continue
        for seq, _index in ids:
            target = store.jobs.get(seq)
            if target is None:
                continue
            reverse = [list(x) for x in (target.get("depend") or [])]
            rkind = "before" + kind[len("after"):]
            ref = [job["seq"], "" if job.get("array") else None]
            for entry in reverse:
                if entry[0] == rkind:
                    entry[1].append(ref)
                    break
            else:
                reverse.append([rkind, [ref]])
            target["depend"] = reverse
            store.touch(target)


# -------------------------------------------------------------------------------------------------- scheduling

def units(job):
    """The parts of a job that run: the job itself, or its sub-jobs in index order."""
    if job.get("array"):
        return [job["subjobs"][str(i)] for i in job["array"]["indices"]]
    return [job]


def unit_key(job, unit):
    return [job["seq"], unit["index"] if job.get("array") else None]


def find_unit(store, key):
    job = store.jobs.get(key[0])
    if job is None:
        return None, None
    if key[1] is None:
        return (job, job) if not job.get("array") else (job, None)
    if not job.get("array"):
        return job, None
    return job, job["subjobs"].get(str(key[1]))


def job_ncpus(job):
    try:
        return int(job["resources"].get("ncpus", "1"))
    except ValueError:
        return 1


def proc_stat(pid):
    """(fields after the command name) of /proc/<pid>/stat, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()


def supervisor_alive(unit):
    pid = unit.get("sup_pid")
    if not pid:
        return None
    fields = proc_stat(pid)
    if fields is None or fields[0] == "Z":
        return False
    return fields[19] == unit.get("sup_start")


def dependency_state(store, job):
    """'ok' when every after* dependency is met, 'never' when one can no longer be met, else 'wait'."""
    verdict = "ok"
    for kind, ids in job.get("depend") or []:
        if not kind.startswith("after"):
            continue
        for seq, index in ids:
            target = store.jobs.get(seq)
            if target is None:
                return "never"
            if index not in (None, "") and target.get("array"):
                sub = target["subjobs"].get(str(index))
                started = bool(sub and sub.get("stime"))
                done = bool(sub and sub["state"] == "X") or target["state"] == "F"
                status = sub.get("exit_status") if sub else None
            else:
                started = bool(target.get("stime"))
                done = target["state"] == "F"
                status = target.get("exit_status")
            if kind == "after":
                if started:
                    continue
                if done:
                    return "never"
            else:
                if not done:
                    verdict = "wait"
                    continue
                if not started:
                    return "never"
                failed = status not in (0, None)
                if (kind == "afterok" and failed) or (kind == "afternotok" and not failed):
                    return "never"
                continue
            verdict = "wait"
    return verdict


def schedule(cfg, store):
    """One pass of the server and scheduler: stale supervisors, dependencies, then start what fits.
    Returns the keys of units whose supervisors must be launched (after the lock is released)."""
    now = int(time.time())
    launches = []
    purge_history(cfg, store, now)
    for job in store.ordered():
        for unit in units(job):
            if unit["state"] in ("R", "E"):
                alive = supervisor_alive(unit)
                if alive is False or (alive is None and now - unit.get("launch_time", now) > 30):
                    kill_session(unit.get("session_id"))
                    kind = "deleted" if unit.get("delete_by") else "failed"
                    finish_unit(cfg, store, job, unit, kind, 271 if kind == "deleted" else -1, now)
    for _ in range(4):
        changed = False
        for job in store.ordered():
            if job["state"] == "H" and job["hold"] == "s":
                verdict = dependency_state(store, job)
                if verdict == "ok":
                    job.update(hold="n", state="Q", substate=SUB_QUEUED, etime=now, mtime=now)
                    store.touch(job)
                    changed = True
                elif verdict == "never":
                    delete_queued_job(cfg, store, job, now)
                    changed = True
        capacity = store.node_ncpus
        running = [(j, u) for j in store.ordered() for u in units(j) if u["state"] in ("R", "E")]
        used = sum(job_ncpus(j) for j, _u in running)
        slots = {u.get("slot") for _j, u in running}
        for job in store.ordered():
            if job["state"] not in ("Q", "B") or job["hold"] != "n":
                continue
            max_run = (job.get("array") or {}).get("max_run")
            for unit in units(job):
                if unit["state"] != "Q":
                    continue
                if max_run and sum(1 for u in units(job) if u["state"] in ("R", "E")) >= max_run:
                    break
                need = job_ncpus(job)
                if capacity is not None and used + need > capacity:
                    comment = "Not Running: Insufficient amount of resource: ncpus (R: %d A: %d T: %d)" % (
                        need, max(capacity - used, 0), capacity)
                    if not job.get("array") and job.get("comment") != comment:
                        job["comment"] = comment
                        store.touch(job)
                    break
                slot = 0
                while slot in slots:
                    slot += 1
                slots.add(slot)
                used += need
                start_unit(cfg, store, job, unit, slot, now)
                launches.append(unit_key(job, unit))
                changed = True
        if not changed:
            break
    return launches


def start_unit(cfg, store, job, unit, slot, now):
    vnode = exec_vnode_for(job.get("node") or cfg.node, job["chunks"])
    host = job.get("node") or cfg.node
    chunks = []
    for count, pairs in job["chunks"]:
        n = int(dict(pairs).get("ncpus", "1"))
        for _ in range(count):
            chunks.append("%s/%d%s" % (host, slot, "*%d" % n if n > 1 else ""))
    unit.update(state="R", substate=SUB_RUNNING, stime=now, mtime=now, slot=slot, exec_host="+".join(chunks),
                exec_vnode=vnode, run_count=unit.get("run_count", 0) + 1, launch_time=now,
                comment="Job run at %s on %s" % (short_when(now), vnode))
    unit.setdefault("etime", job.get("etime", now))
    unit.pop("sup_pid", None)
    unit.pop("session_id", None)
    if job.get("array"):
        if job["state"] != "B":
            job.update(state="B", substate=SUB_BEGUN, stime=now,
                       comment="Job Array Began at %s" % short_when(now))
        job["mtime"] = now
    store.touch(job)


def exit_fields(kind, status):
    """(Exit_status, substate, comment suffix) for how a unit ended."""
    if kind == "walltime":
        return -29, SUB_FAILED, " and exceeded resource walltime"
    if kind == "deleted":
        return status, SUB_DELETED, None
    if status == 0:
        return 0, SUB_FINISHED, " and finished"
    return status, SUB_FAILED, " and failed"


def finish_unit(cfg, store, job, unit, kind, status, now, used=None):
    exit_status, substate, suffix = exit_fields(kind, status)
    if suffix is None:
        suffix = " and terminated by %s" % unit.get("delete_by", cfg.owner)
    unit.update(state="X" if job.get("array") else "F", substate=substate, exit_status=exit_status,
                obittime=now, mtime=now, history_timestamp=now, stageout_status=1,
                comment=(unit.get("comment") or "Job run at %s on %s" % (short_when(now), unit.get("exec_vnode")))
                + suffix)
    if used is not None:
        unit["resources_used"] = used
    elif "resources_used" not in unit:
        unit["resources_used"] = usage_now(job, unit, now)
    store.touch(job)
    if job.get("array"):
        maybe_finish_array(store, job, now)


def maybe_finish_array(store, job, now):
    subs = units(job)
    if any(u["state"] not in ("X",) for u in subs):
        return
    began = bool(job.get("stime"))
    deleted = bool(job.get("deleted"))
    job.update(state="F", mtime=now, history_timestamp=now)
    if began:
        ran = [u for u in subs if u.get("stime")]
        job["exit_status"] = 0 if all(u.get("exit_status") == 0 for u in ran) and ran else 1
        job["obittime"] = now
        job["stageout_status"] = 1
        job["substate"] = SUB_DELETED if deleted else SUB_FINISHED
        job["comment"] = (job.get("comment") or "") + (" and terminated" if deleted else " and finished")
    else:
        job["substate"] = SUB_DELETED
    store.touch(job)


def delete_queued_job(cfg, store, job, now):
    """A job deleted before it ran goes to history without an exit status (as qdel of a held job shows)."""
    if job.get("array"):
        for unit in units(job):
            if unit["state"] == "Q":
                unit.update(state="X", substate=SUB_DELETED, mtime=now, history_timestamp=now, never_ran=True)
        job["deleted"] = True
        maybe_finish_array(store, job, now)
        if job["state"] != "F":
            store.touch(job)
        return
    job.update(state="F", substate=SUB_DELETED, mtime=now, history_timestamp=now)
    job.pop("comment", None)
    store.touch(job)


def purge_history(cfg, store, now):
    for job in list(store.jobs.values()):
        if job["state"] == "F" and now - job.get("history_timestamp", now) > cfg.history_seconds:
            store.remove(job)


# -------------------------------------------------------------------------------------------- process handling

def proc_sessions():
    """{session id: [fields]} for every process visible in /proc."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = proc_stat(int(name))
        if fields is None:
            continue
        out.setdefault(int(fields[3]), []).append((int(name), fields))
    return out


def kill_session(sid, sig=signal.SIGKILL):
    if not sid:
        return
    try:
        os.killpg(sid, sig)
    except OSError:
        pass
    for pid, _fields in proc_sessions().get(sid, []):
        if pid != os.getpid():
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def usage_now(job, unit, now, sessions=None):
    """resources_used for a running unit, read from its session's processes."""
    walltime = now - unit.get("stime", now)
    cpu, rss, vsz = 0.0, 0, 0
    sid = unit.get("session_id")
    if sid and unit["state"] in ("R", "E"):
        tick = os.sysconf("SC_CLK_TCK")
        page = os.sysconf("SC_PAGE_SIZE")
        for pid, fields in (sessions if sessions is not None else proc_sessions()).get(sid, []):
            cpu += (int(fields[11]) + int(fields[12])) / tick
            if pid == sid:
                cpu += (int(fields[13]) + int(fields[14])) / tick
            vsz += int(fields[20])
            rss += int(fields[21]) * page
    return {
        "cpupercent": str(int(cpu * 100 / walltime) if walltime > 0 else 0),
        "cput": fmt_hms(cpu),
        "mem": "%dkb" % (rss // 1024),
        "ncpus": str(job_ncpus(job)),
        "vmem": "%dkb" % (vsz // 1024),
        "walltime": fmt_hms(walltime),
    }


def launch(cfg, keys):
    for key in keys:
        spawn_supervisor(cfg, key)


def detach_stdio(keep):
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def spawn_supervisor(cfg, key):
    """Double fork so the supervisor belongs to no caller: an SSH exec channel that ran qsub closes at once.
    qsub waits (briefly) until the job's shell exists, so the job is really running when qsub returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            detach_stdio(keep={w})
            try:
                supervise(cfg, key, w)
            except BaseException:
                code = 1
                log(cfg, "supervisor for %s failed:\n%s" % (key, traceback.format_exc()))
        finally:
            os._exit(code)
    os.close(w)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 10
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([r], [], [], remaining)
        if ready:
            os.read(r, 1)
            break
    os.close(r)


def log(cfg, text):
    try:
        with open(os.path.join(cfg.home, "emulator.log"), "a") as f:
            f.write("%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), text))
    except OSError:
        pass


def job_environment(cfg, job, unit, jobfs, nodefile):
    env = {"PATH": "/bin:/usr/bin"}
    env.update(varlist_env(job["variable_list"]))
    home = job.get("home") or cfg.user_home
    jid = job["id"] if not job.get("array") else id_text(cfg, job["seq"], unit["index"])
    ncpus = job_ncpus(job)
    env.update({
        "HOME": home, "LOGNAME": job["user"], "USER": job["user"], "SHELL": job.get("shell") or "/bin/bash",
        "ENVIRONMENT": "BATCH", "PBS_ENVIRONMENT": "PBS_BATCH",
        "PBS_JOBID": jid, "PBS_JOBNAME": job["name"], "PBS_QUEUE": job["queue"],
        "PBS_JOBDIR": home, "PBS_NODEFILE": nodefile, "PBS_NODENUM": "0", "PBS_TASKNUM": "1",
        "PBS_MOMPORT": "15003", "PBS_JOBCOOKIE": "%032X" % (job["seq"] * 7919 + (unit.get("index") or 0)),
        "TMPDIR": jobfs, "PBS_JOBFS": jobfs,
        "NCPUS": str(ncpus), "OMP_NUM_THREADS": str(ncpus),
        "PBS_NCPUS": str(ncpus), "PBS_NNODES": job["resources"].get("nodect", "1"),
        "PBS_NGPUS": job["resources"].get("ngpus", "0"),
    })
    if "PBS_O_WORKDIR" not in env:
        env["PBS_O_WORKDIR"] = job["cwd"]
    if job.get("array"):
        env["PBS_ARRAY_INDEX"] = str(unit["index"])
        env["PBS_ARRAY_ID"] = job["id"]
    if job.get("account"):
        env["PBS_ACCOUNT"] = job["account"]
    # The emulator's own settings follow the job, so a job can run qsub/qstat against the same server.
    for name, value in cfg.env.items():
        if name.startswith("PBS_EMULATOR_"):
            env[name] = value
    return env


def stage_path(cfg, job, unit, path_attr, default_suffix):
    _host, _sep, path = job[path_attr].partition(":")
    if job.get("array"):
        path = path.replace("^array_index^", str(unit["index"]))
    if path.endswith("/") or os.path.isdir(path):
        jid = job["id"] if not job.get("array") else id_text(cfg, job["seq"], unit["index"])
        path = os.path.join(path, jid + default_suffix)
    return path


def supervise(cfg, key, notify_fd):
    stop = {"requested": False}

    def on_term(_signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def notify():
        nonlocal notify_fd
        if notify_fd is not None:
            try:
                os.write(notify_fd, b"1")
                os.close(notify_fd)
            except OSError:
                pass
            notify_fd = None

    store = Store(cfg)
    with store:
        job, unit = find_unit(store, key)
        if unit is None or unit["state"] not in ("R", "E"):
            notify()
            return
        unit["sup_pid"] = os.getpid()
        unit["sup_start"] = (proc_stat(os.getpid()) or [""] * 20)[19]
        store.touch(job)
        job = json.loads(json.dumps(job))
        unit = find_unit_in(job, key)
    jid = job["id"] if not job.get("array") else id_text(cfg, job["seq"], unit["index"])
    jobfs = os.path.join(store.jobfs_dir, jid)
    os.makedirs(jobfs, mode=0o700, exist_ok=True)
    nodefile = os.path.join(store.spool_dir, jid + ".NF")
    with open(nodefile, "w") as f:
        f.write((job.get("node") or cfg.node) + "\n")
    out_spool = os.path.join(store.spool_dir, jid + ".OU")
    err_spool = os.path.join(store.spool_dir, jid + ".ER")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    if job["join"] == "eo":
        out_fd = err_fd = os.open(err_spool, flags, 0o600)
    else:
        out_fd = os.open(out_spool, flags, 0o600)
        err_fd = out_fd if job["join"] == "oe" else os.open(err_spool, flags, 0o600)
    env = job_environment(cfg, job, unit, jobfs, nodefile)
    workdir = job["cwd"] if job["resources"].get("wd", "0") not in ("0", "false", "False") else \
        (job.get("home") or cfg.user_home)
    # PBS runs the user's login shell; on Gadi that is bash, and a test user's /bin/sh must not change the job.
    shell = job.get("shell") or "/bin/bash"
    if job.get("command"):
        argv = list(job["command"])
    else:
        argv = ["-" + os.path.basename(shell), store.script_path(job["seq"])]

    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_DFL)
            os.umask(job.get("umask", 0o077))
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            for name in os.listdir("/proc/self/fd"):
                if int(name) > 2:
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            try:
                os.chdir(workdir)
            except OSError:
                os.write(2, ("PBS: chdir to %s failed\n" % workdir).encode())
                os.chdir("/")
            if job.get("command"):
                os.execvpe(argv[0], argv, env)
            os.execve(shell, argv, env)
        except BaseException as e:
            try:
                os.write(2, ("PBS: cannot run the job: %s\n" % e).encode())
            finally:
                os._exit(127)
    with store:
        live_job, live = find_unit(store, key)
        if live is not None:
            live["session_id"] = pid
            if live.get("delete_by"):
                stop["requested"] = True
            store.touch(live_job)
    notify()

    walltime = parse_time(job["resources"]["walltime"]) if "walltime" in job["resources"] else None
    deadline = unit["stime"] + walltime if walltime is not None else None
    kill_delay = job.get("kill_delay", cfg.kill_delay)
    reason, kill_at, status, rusage = None, None, 0, None
    while True:
        try:
            wpid, status, rusage = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            break
        if wpid == pid:
            break
        now = time.time()
        if reason is None:
            if stop["requested"]:
                reason = "deleted"
            elif deadline is not None and now >= deadline:
                reason = "walltime"
            if reason:
                kill_session(pid, signal.SIGTERM)
                kill_at = now + kill_delay
        elif now >= kill_at:
            kill_session(pid, signal.SIGKILL)
            kill_at = now + 3600
        time.sleep(0.1)
    kill_session(pid, signal.SIGKILL)
    if os.WIFSIGNALED(status):
        code = 256 + os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    ended = int(time.time())
    used = None
    if rusage is not None:
        cpu = rusage.ru_utime + rusage.ru_stime
        walltime_used = ended - unit["stime"]
        used = {
            "cpupercent": str(int(cpu * 100 / walltime_used) if walltime_used > 0 else 0),
            "cput": fmt_hms(cpu), "mem": "%dkb" % rusage.ru_maxrss, "ncpus": str(job_ncpus(job)),
            "vmem": "%dkb" % rusage.ru_maxrss, "walltime": fmt_hms(walltime_used),
        }
    os.close(out_fd)
    if err_fd != out_fd:
        os.close(err_fd)
    umask = job.get("umask", 0o077)
    # With -j oe both streams are in the .OU spool, with -j eo both are in the .ER spool.
    if job["join"] != "eo":
        deliver(out_spool, stage_path(cfg, job, unit, "output_path", ".OU"), umask)
    if job["join"] != "oe":
        deliver(err_spool, stage_path(cfg, job, unit, "error_path", ".ER"), umask)
    for path in (out_spool, err_spool, nodefile):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    shutil.rmtree(jobfs, ignore_errors=True)
    with store:
        live_job, live = find_unit(store, key)
        launches = []
        if live is not None and live["state"] in ("R", "E"):
            kind = reason or ("deleted" if live.get("delete_by") else "done")
            finish_unit(cfg, store, live_job, live, kind, code, ended, used)
            launches = schedule(cfg, store)
    launch(cfg, launches)


def find_unit_in(job, key):
    if key[1] is None:
        return job
    return job["subjobs"][str(key[1])]


def deliver(spool, dest, umask):
    """Stage a spooled stream to its final path at the end of the job, as the server's stage-out does."""
    try:
        with open(spool, "rb") as src:
            data = src.read()
    except OSError:
        return
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------- job attributes

def display_state(job, unit, kind):
    if kind == "sub":
        if unit["state"] == "X":
            return "F" if job["state"] == "F" else "X"
        return unit["state"]
    return job["state"]


def job_attributes(cfg, job, unit, kind, now, sessions):
    """The attributes the server reports, in its order: [(name, value)] where value is a string or, for
    resource lists, [(resource, string)]."""
    sub = kind == "sub"
    src = unit if sub else job
    state = display_state(job, unit, kind)
    ran = bool(src.get("stime")) and kind != "parent"
    out = [("Job_Name", job["name"]), ("Job_Owner", job["owner"])]
    if ran:
        used = src.get("resources_used") if src["state"] not in ("R", "E") else None
        used = used or usage_now(job, src, now, sessions)
        out.append(("resources_used", sorted(used.items())))
    out += [("job_state", state), ("queue", job["queue"]), ("server", job.get("server") or cfg.server)]
    if job.get("account"):
        out.append(("Account_Name", job["account"]))
    if not sub:
        out.append(("Checkpoint", job["checkpoint"]))
    out.append(("ctime", ctime_str(job["ctime"])))
    if job.get("depend") and not sub:
        out.append(("depend", depend_text(cfg, [(k, [tuple(x) for x in v] if k != "on" else v)
                                                for k, v in job["depend"]])))
    out.append(("Error_Path", sub_path(job, unit, "error_path") if sub else job["error_path"]))
    if ran and src.get("exec_host"):
        out += [("exec_host", src["exec_host"]), ("exec_vnode", src["exec_vnode"])]
    if job.get("group_list"):
        out.append(("group_list", job["group_list"]))
    if not sub:
        out.append(("Hold_Types", job["hold"]))
    out += [("Join_Path", job["join"]), ("Keep_Files", job["keep"]), ("Mail_Points", job["mail_points"])]
    if job.get("mail_users"):
        out.append(("Mail_Users", job["mail_users"]))
    out += [("mtime", ctime_str(max(job["mtime"], src.get("mtime", 0)))),
            ("Output_Path", sub_path(job, unit, "output_path") if sub else job["output_path"]),
            ("Priority", str(job["priority"])), ("qtime", ctime_str(job["qtime"])),
            ("Rerunable", job["rerunable"]), ("Resource_List", list(job["resources"].items()))]
    if src.get("stime"):
        out.append(("stime", ctime_str(src["stime"])))
    if src.get("obittime"):
        out.append(("obittime", ctime_str(src["obittime"])))
    if ran and src.get("session_id"):
        out.append(("session_id", str(src["session_id"])))
    if job.get("shell"):
        out.append(("Shell_Path_List", job["shell"]))
    if ran:
        out.append(("jobdir", job.get("home") or cfg.user_home))
    out += [("substate", str(src["substate"])), ("Variable_List", job["variable_list"])]
    if src.get("comment"):
        out.append(("comment", src["comment"]))
    etime = src.get("etime") if sub else job.get("etime")
    if etime or (sub and job.get("etime")):
        out.append(("etime", ctime_str(etime or job["etime"])))
    if ran:
        out.append(("run_count", str(src.get("run_count", 1))))
    if src.get("stageout_status"):
        out.append(("Stageout_status", str(src["stageout_status"])))
    if src.get("exit_status") is not None:
        out.append(("Exit_status", str(src["exit_status"])))
    if not sub:
        out.append(("Submit_arguments", job["submit_args"]))
    if kind == "parent":
        out.append(("array", "True"))
        out.append(("array_state_count", array_state_count(job)))
        out.append(("array_indices_submitted", job["array"]["range"]))
        out.append(("array_indices_remaining", array_remaining(job)))
    if sub:
        out.append(("array_id", job["id"]))
        out.append(("array_index", str(unit["index"])))
    if state in ("F", "X") and src.get("history_timestamp"):
        out.append(("history_timestamp", str(src["history_timestamp"])))
    out += [("project", job["project"]), ("Submit_Host", job["submit_host"])]
    return out


def sub_path(job, unit, attr):
    return job[attr].replace("^array_index^", str(unit["index"]))


def array_state_count(job):
    subs = units(job)
    if job["state"] == "F":
        if job.get("deleted"):
            expired = sum(1 for u in subs if u.get("never_ran"))
            return "Queued:0 Running:0 Exiting:0 Expired:%d" % expired
        return "Queued:0 Running:0 Exiting:0 Expired:0"
    counts = [sum(1 for u in subs if u["state"] == s) for s in ("Q", "R", "E", "X")]
    return "Queued:%d Running:%d Exiting:%d Expired:%d" % tuple(counts)


def array_remaining(job):
    if job["state"] == "F":
        return "-"
    left = [u["index"] for u in units(job) if u["state"] == "Q"]
    return compress_indices(left) if left else "-"


# ------------------------------------------------------------------------------------------------------ qstat output

def wrap_attr(name, value):
    """One attribute of `qstat -f`, folded at commas near column 78 as qstat does."""
    out = ["    " + name + " = "]
    start = len(name) + 7
    tokens = [t for t in value.split(",") if t]
    first = True
    for i, tok in enumerate(tokens):
        if len(tok) + start < LINE_LIMIT:
            out.append(tok)
            start += len(tok)
        else:
            if not first:
                out.append("\n\t")
                start = 9
            for ch in tok:
                out.append(ch)
                start += 1
                if start > LINE_LIMIT:
                    start = 8
                    out.append("\n\t")
        if i < len(tokens) - 1:
            first = False
            out.append(",")
    return "".join(out)


def render_full_text(jid, attrs):
    lines = ["Job Id: %s" % jid]
    for name, value in attrs:
        if isinstance(value, list):
            for res, v in value:
                lines.append(wrap_attr("%s.%s" % (name, res), v))
        else:
            lines.append(wrap_attr(name, value))
    return "\n".join(lines) + "\n\n"


def render_dsv(jid, attrs, delim):
    def esc(v):
        return v.replace(delim, "\\" + delim).replace("\n", "\\n").replace("\f", "\\f")
    parts = ["Job Id: %s" % jid]
    for name, value in attrs:
        if isinstance(value, list):
            parts += ["%s.%s=%s" % (name, res, esc(v)) for res, v in value]
        else:
            parts.append("%s=%s" % (name, esc(value)))
    return delim.join(parts) + "\n"


def render_json_job(attrs):
    obj = JsonObject()
    for name, value in attrs:
        if name == "Variable_List":
            obj.append((name, JsonObject((k, parse_value(v) if v is not None else None)
                                         for k, v in varlist_pairs_display(value))))
        elif isinstance(value, list):
            obj.append((name, JsonObject((res, parse_value(v)) for res, v in value)))
        else:
            obj.append((name, parse_value(value)))
    return obj


def trunc(value, width):
    return value[:width - 1] + "*" if len(value) > width else value


def table_row(cfg, jid, attrs, layout):
    a = dict((n, v) for n, v in attrs if not isinstance(v, list))
    used = dict(next((v for n, v in attrs if n == "resources_used"), []))
    short = jid
    first = short.find(".")
    if first >= 0:
        second = short.find(".", first + 1)
        if second >= 0:
            short = short[:second]
    owner = a["Job_Owner"].split("@")[0]
    timeu = used.get("cput", "0")
    if layout == "wide":
        name = a["Job_Name"] if len(a["Job_Name"]) < 15 else a["Job_Name"][:14] + "*"
        return "%-30s %-15s %-15s  %8s %1s %-15s\n" % (trunc(short, 30), name, trunc(owner, 15), trunc(timeu, 8),
                                                     a["job_state"], trunc(a["queue"], 15))
    width = 22 if layout == "incr" else 17
    name = a["Job_Name"] if len(a["Job_Name"]) < 16 else a["Job_Name"][:15] + "*"
    return "%-*s %-16s %-16s  %8s %1s %-16s\n" % (width, trunc(short, width), name, trunc(owner, 16),
                                                 trunc(timeu, 8), a["job_state"], trunc(a["queue"], 16))


TABLE_HEADERS = {
    "normal": "Job id            Name             User              Time Use S Queue\n"
              "----------------  ---------------- ----------------  -------- - -----\n",
    "incr": "Job id                 Name             User              Time Use S Queue\n"
            "---------------------  ---------------- ----------------  -------- - -----\n",
    "wide": "Job id                         Name            User             Time Use S Queue\n"
            "-----------------------------  --------------- ---------------  -------- - ---------------\n",
}


def cnv_size(value):
    """A size for the 6-column Memory field of the alternative display, moved up a unit until it fits."""
    m = re.fullmatch(r"(\d+)([kmgt]?)([bw]?)", value)
    if not m:
        return value
    nval = int(m.group(1))
    magnitude = " kmgt".index(m.group(2) or " ")
    while nval > 9999:
        nval = (nval + 1023) >> 10
        magnitude += 1
    return "%d%s%s" % (nval, " kmgtp?"[magnitude], m.group(3) or "b")


def alt_row(cfg, jid, attrs, opts, incr):
    a = dict((n, v) for n, v in attrs if not isinstance(v, list))
    rl = dict(next((v for n, v in attrs if n == "Resource_List"), []))
    used = dict(next((v for n, v in attrs if n == "resources_used"), []))
    blank = " -- "
    tasks = rl.get("ncpus", blank)
    if tasks == "0":
        tasks = blank
    row = "%-*.*s %-8.8s %-8.8s " % (20 if incr else 15, 20 if incr else 15,
                                     trunc(jid, 20 if incr else 15), trunc(a["Job_Owner"].split("@")[0], 8),
                                     trunc(a["queue"], 8))
    row += "%-10.10s %6.6s %3.3s %3.3s " % (trunc(a["Job_Name"], 10), trunc(a.get("session_id", blank), 6),
                                            trunc(rl.get("nodect", blank), 3), trunc(tasks, 3))
    row += "%6.6s %5.5s %1.1s %5.5s\n" % (cnv_size(rl["mem"]) if "mem" in rl else blank,
                                          rl.get("walltime", blank), a["job_state"],
                                          used.get("walltime", blank))
    if "n" in opts:
        hosts = a.get("exec_host", blank)
        row += "   %s\n" % "+".join(h.split("/")[0].split(".")[0] + ("/" + h.split("/", 1)[1] if "/" in h else "")
                                    for h in hosts.split("+"))
    if "s" in opts and a.get("comment"):
        comment = a["comment"]
        if len(comment) > 74:
            comment = comment[:71] + "..."
        row += "   %s\n" % comment
    return row


def alt_header(cfg, incr):
    text = "\n%s: " % cfg.server
    text += "\n%60s%-7s%-8s%s\n" % (" ", "Req'd", "Req'd", "Elap") if not incr else \
        "\n%65s%-7s%-8s%s\n" % (" ", "Req'd", "Req'd", "Elap")
    if incr:
        text += ("Job ID               Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n"
                 "-------------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n")
    else:
        text += ("Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n"
                 "--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n")
    return text


def entries_for(cfg, job, with_subjobs):
    """(display id, kind, job, unit) for a job and, when asked, its sub-jobs."""
    if not job.get("array"):
        return [(job["id"], "job", job, job)]
    out = [(job["id"], "parent", job, job)]
    if with_subjobs:
        for unit in units(job):
            out.append((id_text(cfg, job["seq"], unit["index"]), "sub", job, unit))
    return out


# ----------------------------------------------------------------------------------------------------------- qstat

def qstat(cfg, argv):
    if argv == ["--version"]:
        sys.stdout.write("pbs_version = %s\n" % PBS_VERSION)
        return 0
    try:
        opts, operands = getopt.gnu_getopt(argv, "ainpqrstwxu:fGHJMQEBW:T1F:D:")
    except getopt.GetoptError as e:
        if e.opt and "requires argument" in e.msg:
            err("qstat: option requires an argument -- '%s'\n" % e.opt)
        else:
            err("qstat: invalid option -- '%s'\n" % (e.opt or "?"))
        err(QSTAT_USAGE)
        return 2
    flags = set()
    user = None
    fmt = "default"
    delim = "|"
    errflg = 0
    for opt, val in opts:
        o = opt[1]
        if o == "u":
            user = val
            flags.add("u")
        elif o == "F":
            if val.lower() not in ("default", "dsv", "json"):
                errflg += 1
            else:
                fmt = val.lower()
        elif o == "D":
            if fmt == "dsv":
                delim = val
            else:
                errflg += 1
        elif o in "qTGMp1W":
            err("qstat: option -%s is not supported by this emulator\n" % o)
            errflg += 1
        else:
            if (o == "B" and "Q" in flags) or (o == "Q" and "B" in flags) or (o in "BQ" and flags & set("aiuHrns")):
                err("qstat: conflicting options.\n")
                errflg += 1
            flags.add(o)
    alt_modes = flags & set("airH")
    if len(alt_modes) > 1 or (fmt != "default" and "f" not in flags):
        err("qstat: conflicting options.\n")
        errflg += 1
    if "w" in flags and fmt != "default":
        err("qstat: option w cannot be used with -F\n")
        errflg += 1
    if errflg:
        err(QSTAT_USAGE)
        return 2
    full = "f" in flags
    if flags & set("BQ"):
        return qstat_server_or_queue(cfg, "B" if "B" in flags else "Q", operands, full, fmt, delim)
    alt = bool(flags & set("aiuHrns")) and not ("w" in flags and full)
    wide = "w" in flags
    history = "x" in flags or "H" in flags
    incr = cfg.max_seq > 9999999
    layout = "wide" if wide else "incr" if incr else "normal"
    now = int(time.time())
    out = []
    json_jobs = JsonObject()
    any_failed = 0

    with Store(cfg) as store:
        launches = schedule(cfg, store)
        sessions = proc_sessions()

        def selected(job):
            if user and job["user"] != user:
                return False
            if "J" in flags and not job.get("array"):
                return False
            if "i" in flags and job["state"] not in ("E", "H", "Q", "T", "W"):
                return False
            if "r" in flags and job["state"] not in ("R", "S"):
                return False
            if "H" in flags and job["state"] not in ("F", "M", "X"):
                return False
            if not history and job["state"] == "F":
                return False
            return True

        groups = []  # (first operand?, entries)
        if not operands:
            entries = []
            for job in store.ordered():
                if selected(job):
                    entries += entries_for(cfg, job, "t" in flags)
            groups.append(entries)
        for operand in operands:
            ref = norm_jobid(cfg, operand)
            if ref is None:
                queue = operand.split("@")[0]
                entries = []
                for job in store.ordered():
                    if selected(job) and (not queue or job["queue"] == queue):
                        entries += entries_for(cfg, job, "t" in flags)
                groups.append(entries)
                continue
            seq, index = ref
            shown = id_text(cfg, seq, index)
            job = store.jobs.get(seq)
            entry = None
            if job is not None:
                if index is None and not job.get("array"):
                    entry = entries_for(cfg, job, False)
                elif index == "" and job.get("array"):
                    entry = entries_for(cfg, job, "t" in flags)
                elif index not in (None, "") and job.get("array") and index.isdigit() \
                        and str(int(index)) in job["subjobs"]:
                    unit = job["subjobs"][str(int(index))]
                    shown = id_text(cfg, seq, int(index))
                    entry = [(shown, "sub", job, unit)]
            if entry is None:
                err("qstat: Unknown Job Id %s\n" % shown)
                any_failed = PBSE_UNKJOBID
                groups.append(None)
                continue
            if job["state"] == "F" and not history:
                err("qstat: %s Job has finished, use -x or -H to obtain historical job information\n" % shown)
                any_failed = PBSE_HISTJOBID
                groups.append(None)
                continue
            groups.append(entry)

        for gi, entries in enumerate(groups):
            if not entries:
                continue
            rendered = [(jid, job_attributes(cfg, job, unit, kind, now, sessions))
                        for jid, kind, job, unit in entries]
            header = gi == 0
            if alt:
                if header:
                    out.append(alt_header(cfg, incr))
                out += [alt_row(cfg, jid, attrs, flags, incr) for jid, attrs in rendered]
            elif full:
                for jid, attrs in rendered:
                    if fmt == "json":
                        json_jobs.append((jid, render_json_job(attrs)))
                    elif fmt == "dsv":
                        out.append(render_dsv(jid, attrs, delim))
                    else:
                        out.append(render_full_text(jid, attrs))
            else:
                if header:
                    out.append(TABLE_HEADERS[layout])
                out += [table_row(cfg, jid, attrs, layout) for jid, attrs in rendered]
    launch(cfg, launches)
    if fmt == "json":
        top = JsonObject([("timestamp", now), ("pbs_version", PBS_VERSION), ("pbs_server", cfg.server)])
        if json_jobs:
            top.append(("Jobs", json_jobs))
        out.append(json_dump(top) + "\n")
    sys.stdout.write("".join(out))
    return pbs_exit(any_failed)


def server_counts(jobs):
    counts = {"Transit": 0, "Queued": 0, "Held": 0, "Waiting": 0, "Running": 0, "Exiting": 0, "Begun": 0}
    names = {"T": "Transit", "Q": "Queued", "H": "Held", "W": "Waiting", "R": "Running", "E": "Exiting",
             "B": "Begun"}
    for job in jobs:
        if job["state"] in names:
            counts[names[job["state"]]] += 1
    return counts


def state_count_text(counts):
    return "".join("%s:%d " % (k, v) for k, v in counts.items())


def assigned(jobs):
    """resources_assigned: what running jobs hold."""
    mem_kb, ncpus, nodect = 0, 0, 0
    for job in jobs:
        for unit in units(job):
            if unit["state"] in ("R", "E"):
                ncpus += job_ncpus(job)
                nodect += int(job["resources"].get("nodect", "1"))
                if "mem" in job["resources"]:
                    mem_kb += -(-size_bytes(job["resources"]["mem"]) // 1024)
    return [("mem", "%dkb" % mem_kb if mem_kb else "0gb"), ("ncpus", str(ncpus)), ("nodect", str(nodect))]


def server_attributes(cfg, store):
    jobs = store.ordered()
    return [
        ("server_state", "Active"), ("server_host", cfg.server), ("scheduling", "True"),
        ("total_jobs", str(len(jobs))), ("state_count", state_count_text(server_counts(jobs))),
        ("default_queue", cfg.default_queue), ("log_events", "511"), ("mailer", "/usr/sbin/sendmail"),
        ("mail_from", "adm"), ("query_other_jobs", "True"), ("resources_default", [("ncpus", "1")]),
        ("default_chunk", [("ncpus", "1")]), ("resources_assigned", assigned(jobs)),
        ("scheduler_iteration", "600"), ("flatuid", "True"), ("resv_enable", "True"),
        ("node_fail_requeue", "310"), ("max_array_size", str(MAX_ARRAY_SIZE)), ("resend_term_delay", "5"),
        ("pbs_license_min", "0"), ("pbs_license_max", "2147483647"), ("pbs_license_linger_time", "31536000"),
        ("license_count", "Avail_Global:1000000 Avail_Local:1000000 Used:0 High_Use:0"),
        ("pbs_version", PBS_VERSION), ("eligible_time_enable", "False"), ("job_history_enable", "True"),
        ("max_concurrent_provision", "5"), ("clear_topjob_estimates_enable", "False"),
        ("max_job_sequence_id", str(cfg.max_seq)),
    ]


def queue_attributes(cfg, store, queue):
    jobs = [j for j in store.ordered() if j["queue"] == queue and j["state"] != "F"]
    return [
        ("queue_type", "Execution"), ("total_jobs", str(len(jobs))),
        ("state_count", state_count_text(server_counts(jobs))), ("resources_assigned", assigned(jobs)),
        ("enabled", "True"), ("started", "True"),
    ]


def qstat_server_or_queue(cfg, mode, operands, full, fmt, delim):
    now = int(time.time())
    any_failed = 0
    out = []
    with Store(cfg) as store:
        launches = schedule(cfg, store)
        if mode == "B":
            objects = [(cfg.server, server_attributes(cfg, store))]
        else:
            known = [cfg.default_queue] + sorted({j["queue"] for j in store.ordered()} - {cfg.default_queue})
            wanted = [o.split("@")[0] for o in operands] or known
            objects = []
            for queue in wanted:
                if queue not in known:
                    err("qstat: Unknown queue %s\n" % queue)
                    any_failed = 15018
                    continue
                objects.append((queue, queue_attributes(cfg, store, queue)))
    launch(cfg, launches)
    label = "Server" if mode == "B" else "Queue"
    if full and fmt == "json":
        top = JsonObject([("timestamp", now), ("pbs_version", PBS_VERSION), ("pbs_server", cfg.server)])
        if objects:
            top.append((label, JsonObject((name, render_json_job(attrs)) for name, attrs in objects)))
        out.append(json_dump(top) + "\n")
    elif full:
        for name, attrs in objects:
            if fmt == "dsv":
                out.append(render_dsv(name, attrs, delim).replace("Job Id: ", label + ": ", 1))
            else:
                out.append(render_full_text(name, attrs).replace("Job Id: ", label + ": ", 1))
    elif objects:
        if mode == "B":
            out.append("Server             Max   Tot   Que   Run   Hld   Wat   Trn   Ext Status\n"
                       "---------------- ----- ----- ----- ----- ----- ----- ----- ----- -----------\n")
        else:
            out.append("Queue              Max   Tot Ena Str   Que   Run   Hld   Wat   Trn   Ext Type\n"
                       "---------------- ----- ----- --- --- ----- ----- ----- ----- ----- ----- ----\n")
        for name, attrs in objects:
            a = dict(attrs)
            c = dict(x.split(":") for x in a["state_count"].split())
            counts = [c["Queued"], c["Running"], c["Held"], c["Waiting"], c["Transit"], c["Exiting"]]
            if mode == "B":
                out.append("%-16s %5s %5s %5s %5s %5s %5s %5s %5s %-10s\n" % (
                    trunc(name, 16), "0", a["total_jobs"], *counts, a["server_state"]))
            else:
                out.append("%-16s %5s %5s %3s %3s %5s %5s %5s %5s %5s %5s %-4s\n" % (
                    trunc(name, 16), "0", a["total_jobs"], "yes", "yes", *counts, trunc(a["queue_type"], 4)))
    sys.stdout.write("".join(out))
    return pbs_exit(any_failed)


# ------------------------------------------------------------------------------------------------------------ qdel

def qdel(cfg, argv):
    if argv == ["--version"]:
        sys.stdout.write("pbs_version = %s\n" % PBS_VERSION)
        return 0
    try:
        opts, ids = getopt.gnu_getopt(argv, "W:x")
    except getopt.GetoptError:
        err(QDEL_USAGE)
        return 2
    delete_history = False
    for opt, val in opts:
        if opt == "-x":
            delete_history = True
        elif opt == "-W":
            if not val or not (val == "force" or val.startswith("suppress_email=") or val.isdigit()):
                err("qdel: illegal -W value\n")
                err(QDEL_USAGE)
                return 2
    if not ids:
        err(QDEL_USAGE)
        return 2
    any_failed = 0
    now = int(time.time())
    signals = []
    with Store(cfg) as store:
        for text in ids:
            ref = norm_jobid(cfg, text)
            if ref is None:
                err("qdel: illegally formed job identifier: %s\n" % text)
                any_failed = 1
                continue
            seq, index = ref
            shown = id_text(cfg, seq, index if index in (None, "") else int(index) if index.isdigit() else index)
            job = store.jobs.get(seq)
            targets = None
            if job is not None:
                if index is None and not job.get("array"):
                    targets = [job]
                elif index == "" and job.get("array"):
                    targets = units(job)
                elif index not in (None, "") and job.get("array") and index.isdigit():
                    unit = job["subjobs"].get(str(int(index)))
                    targets = [unit] if unit is not None else None
            if targets is None:
                err("qdel: Unknown Job Id %s\n" % shown)
                any_failed = PBSE_UNKJOBID
                continue
            finished = job["state"] == "F" or (len(targets) == 1 and targets[0]["state"] == "X")
            if finished:
                if delete_history and job["state"] == "F" and index in (None, ""):
                    store.remove(job)
                    continue
                err("qdel: Job has finished %s\n" % shown)
                any_failed = PBSE_HISTJOBID
                continue
            if job.get("array") and index == "":
                job["deleted"] = True
                job["delete_by"] = cfg.owner
            if not job.get("array") and job["state"] in ("Q", "H"):
                delete_queued_job(cfg, store, job, now)
                continue
            for unit in targets:
                if unit["state"] == "Q":
                    unit.update(state="X", substate=SUB_DELETED, mtime=now, history_timestamp=now, never_ran=True)
                elif unit["state"] in ("R", "E"):
                    if not unit.get("delete_by"):
                        unit.update(delete_by=cfg.owner, state="E", substate=SUB_EXITING, mtime=now)
                    alive = supervisor_alive(unit)
                    if alive:
                        signals.append(unit["sup_pid"])
            store.touch(job)
            if job.get("array"):
                if job["state"] in ("Q", "H") and all(u["state"] == "X" for u in units(job)):
                    job["deleted"] = True
                maybe_finish_array(store, job, now)
        launches = schedule(cfg, store)
    for pid in signals:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    launch(cfg, launches)
    return pbs_exit(any_failed)


# ------------------------------------------------------------------------------------------------------------ main

COMMANDS = {"qsub": qsub, "qstat": qstat, "qdel": qdel}


def main(prog, argv):
    cfg = Config()
    try:
        return COMMANDS[prog](cfg, argv)
    except Exit as e:
        return e.status
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except OSError as e:
        err("%s: cannot connect to server %s (errno=%d)\n" % (prog, cfg.server, e.errno or 0))
        log(cfg, "%s %s failed:\n%s" % (prog, argv, traceback.format_exc()))
        return 1


if __name__ == "__main__":
    sys.exit(main(os.path.basename(sys.argv[1]) if len(sys.argv) > 1 else "qstat", sys.argv[2:]))
