"""Values as the server writes them: HH:MM:SS times, sizes in kb/mb/gb, ctime dates, index ranges."""

import re
import time


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
