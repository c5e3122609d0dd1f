"""Variable_List: what qsub copies from the environment (-v, -V) and how it is quoted and shown."""

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
