"""JSON as OpenPBS prints it (cJSON's layout), and the server's typing of attribute values."""

import re


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
