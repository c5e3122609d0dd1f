"""Content hash of a runtime tree; install.sh and the extension compute the same value (README.md, "Hash").

listing = for each file, sorted by path bytes: sha256(content) in lowercase hex, two spaces, path, "\n"
hash    = sha256(listing) in lowercase hex
Files are every regular file except __pycache__/ contents, *.pyc and the installer's manifest at the top.
"""
import hashlib
import os
import re

from . import MANIFEST_NAME
from .common import Parser, emit

SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")


def runtime_files(root):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
            if f.endswith(".pyc") or rel == MANIFEST_NAME:
                continue
            found.append(rel)
    return sorted(found, key=lambda p: p.encode("utf-8"))


def tree_hash(root):
    listing = []
    for rel in runtime_files(root):
        if not SAFE_PATH.match(rel):
            raise ValueError("unsupported file name in runtime: %r" % rel)
        with open(os.path.join(root, rel), "rb") as f:
            listing.append("%s  %s\n" % (hashlib.sha256(f.read()).hexdigest(), rel))
    return hashlib.sha256("".join(listing).encode("utf-8")).hexdigest(), len(listing)


def main_hash(argv):
    p = Parser(prog="run.py hash", description="Print the content hash of a runtime directory.")
    p.add_argument("dir")
    args = p.parse_args(argv)
    digest, count = tree_hash(args.dir)
    emit({"ok": True, "hash": digest, "files": count})
    return 0
