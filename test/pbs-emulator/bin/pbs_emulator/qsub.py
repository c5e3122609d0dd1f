"""qsub: options and #PBS directives, the server's checks and completion of the request, then the job."""

import getopt
import os
import re
import stat
import sys
import time

from .common import (
    Exit, GADI_REJECT_EXIT, MAX_ARRAY_SIZE, PBSE_BADATVAL, PBSE_BADUSER, PBSE_INVALJOBRESC,
    PBSE_UNKQUE, PBSE_UNKRESC, SUB_DEPHOLD, SUB_HELD, SUB_QUEUED, err, pbs_exit,
)
from .gadi_queues import MAX_WALLTIME_SECONDS
from .ids import id_text, norm_jobid
from .resources import HOST_LEVEL, build_resource_list, known_resource, validate_resources
from .scheduler import schedule
from .state import Store
from .supervisor import launch
from .values import parse_time
from .varlist import copy_env_value, esc_commas, split_quoted_commas


QSUB_USAGE = (
    "usage: qsub [-a date_time] [-A account_string] [-c interval]\n"
    "\t[-C directive_prefix] [-e path] [-f ] [-h ] [-I [-X]] [-j oe|eo] [-J X-Y[:Z]]\n"
    "\t[-k keep] [-l resource_list] [-m mail_options] [-M user_list]\n"
    "\t[-N jobname] [-o path] [-p priority] [-P project] [-q queue] [-r y|n]\n"
    "\t[-R o|e|oe] [-S path] [-u user_list] [-W otherattributes=value...]\n"
    "\t[-v variable_list] [-V ] [-z] [script | -- command [arg1 ...]]\n"
    "       qsub --version\n")


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


DEPEND_TYPES = ("after", "afterok", "afternotok", "afterany", "before", "beforeok", "beforenotok", "beforeany", "on")


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
    unknown = next((n for n, _v in raw_resources if not known_resource(n)), None)
    if unknown is not None:
        err("qsub: Unknown resource Resource_List.%s\n" % unknown)
        return pbs_exit(PBSE_UNKRESC)
    try:
        resources = validate_resources(raw_resources)
    except ValueError as e:
        err("qsub: Illegal attribute or resource value Resource_List.%s\n" % e.args[0])
        return pbs_exit(PBSE_BADATVAL)
    if "walltime" in resources and parse_time(resources["walltime"]) > MAX_WALLTIME_SECONDS:
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
    if queue not in cfg.known_queues:
        err("qsub: Unknown queue\n")
        return pbs_exit(PBSE_UNKQUE)
    variable_list = build_variable_list(cfg, opts, cwd, queue)

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
