"""The agent's side of the protocol with the extension (src/core/cluster/protocol.ts owns it; a test proves this
copy agrees): one JSON request per line on stdin, one framed JSON answer per line on stdout."""
import re

PROTOCOL_VERSION = 1

# An answer line is FRAME, a space and one JSON document; anything else on stdout (a login banner) is noise.
FRAME = "@@GADI_DASK_AGENT@@"

# A PBS Pro job id: sequence number, optional array index ("45[2]", "6[]"), optional ".server".
JOB_ID = re.compile(r"^\d+(\[\d*\])?(\.[A-Za-z0-9][A-Za-z0-9._-]*)?$")
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A Gadi persistent session's name (NCI's rule: a letter, then letters, digits and '-'; one DNS label) and the
# project it runs under (lower-case letters and digits, as Gadi's projects are): both become part of a host name.
SESSION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
PROJECT_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")

# The role of the kernel's job (op_kernel) in its own journal and in a snapshot's answer: never a worker's.
KERNEL_ROLE = "kernel"
# down's option that leaves the kernel next to the cluster running (its default stops it with the cluster).
KEEP_KERNEL = "keepKernel"

# The unique suffix of every job name the agent gives (qsub -N <cluster>-<8 hex>).
JOB_NAME_SUFFIX = re.compile(r"-[0-9a-f]{8}$")

OPS = ("hello", "apply", "snapshot", "down", "cancel", "probe", "discover", "user-jobs", "history", "qdel", "workers", "stop", "run", "kernel")
