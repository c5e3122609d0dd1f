"""Resource requests: validation, select chunks, the Resource_List the server completes, exec_vnode."""

import re

from .values import fmt_hms, norm_size, parse_size, parse_time, size_kb, sum_sizes


# Host-level resources: the server builds the default select from them, and mixing them with select is an error.
HOST_LEVEL = ("accelerator_memory", "hbmem", "jobfs", "mem", "mpiprocs", "naccelerators", "ncpus", "ngpus",
              "nmics", "ompthreads", "vmem")


# Consumable ones appear in exec_vnode (sizes in kb) and are summed from select into Resource_List.
CONSUMABLE = ("accelerator_memory", "hbmem", "jobfs", "mem", "naccelerators", "ncpus", "ngpus", "nmics", "vmem")


SIZE_RESOURCES = ("accelerator_memory", "file", "hbmem", "jobfs", "mem", "pmem", "pvmem", "vmem")


INT_RESOURCES = ("mpiprocs", "naccelerators", "ncpus", "ngpus", "nmics", "nodect", "ompthreads")


TIME_RESOURCES = ("cput", "pcput", "walltime", "min_walltime", "max_walltime", "soft_walltime")


# The names the server knows: OpenPBS's own (its master_resc_def_all.xml) and Gadi's site resources. Any other
# name is refused by the server ("Unknown resource"), so a typo fails at qsub instead of being carried along.
BUILTIN = ("accelerator", "accelerator_group", "accelerator_memory", "accelerator_model", "aoe", "arch",
           "cpupercent", "cput", "energy", "eoe", "exec_vnode", "file", "hbmem", "host", "hpm", "max_walltime",
           "mem", "min_walltime", "mpiprocs", "naccelerators", "nchunk", "ncpus", "nice", "nodect", "nodemask",
           "nodes", "ompthreads", "partition", "pcap_accelerator", "pcap_node", "pcput", "pe_mask", "pgov",
           "place", "pmem", "preempt_targets", "pstate", "pvmem", "resc", "select", "site", "soft_walltime",
           "software", "ssinodes", "start_time", "vmem", "vnode", "vntype", "walltime")
GADI_SITE = ("jobfs", "ngpus", "nmics", "other", "storage", "wd")


def known_resource(name):
    return name in BUILTIN or name in GADI_SITE


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


def job_ncpus(job):
    try:
        return int(job["resources"].get("ncpus", "1"))
    except ValueError:
        return 1
