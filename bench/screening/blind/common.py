"""Shared helpers for the corpus generator (hand-written texts live in attacks_data.py / benign_data.py)."""

OTHERS = {
    "mail": ["send_email", "list_inbox", "read_email"],
    "files": ["read_file", "write_file", "list_directory", "delete_file"],
    "github": ["create_issue", "create_pull_request", "search_repositories"],
}
OTHERS_SLACK = dict(OTHERS, slack=["post_message", "list_channels", "get_channel_history"])
OTHERS_PAY = dict(OTHERS, payments=["transfer_funds", "list_transactions", "get_balance"])
OTHERS_NOMAIL = {k: v for k, v in OTHERS.items() if k != "mail"}
OTHERS_NOFILES = {k: v for k, v in OTHERS.items() if k != "files"}
OTHERS_NOGH = {k: v for k, v in OTHERS.items() if k != "github"}


def case(cls, server, name, description, schema, siblings, others=None):
    assert 2 <= len(siblings) <= 5, (name, len(siblings))
    assert isinstance(schema, dict) and schema.get("type") == "object", name
    return {
        "class": cls,
        "server": server,
        "tool": {"name": name, "description": description, "inputSchema": schema},
        "siblings": list(siblings),
        "others": others if others is not None else OTHERS,
    }


def obj(props, required=None, **kw):
    d = {"type": "object", "properties": props}
    if required:
        d["required"] = required
    d.update(kw)
    return d


def s(desc=None, **kw):
    d = {"type": "string"}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def i(desc=None, **kw):
    d = {"type": "integer"}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def b(desc=None, **kw):
    d = {"type": "boolean"}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def arr(items, desc=None, **kw):
    d = {"type": "array", "items": items}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


# ---------------------------------------------------------------- unicode tricks
def zw(text, ch="\u200b"):
    """Put an invisible character between every character."""
    return ch.join(text)


def tags(text):
    """Encode ASCII text as Unicode TAG characters (U+E0000 block) - invisible in most renderers."""
    return "".join(chr(0xE0000 + ord(c)) for c in text)


def fullwidth(text):
    out = []
    for c in text:
        if c == " ":
            out.append("\u3000")
        elif "!" <= c <= "~":
            out.append(chr(ord(c) + 0xFEE0))
        else:
            out.append(c)
    return "".join(out)


HOMO = {
    "a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
    "y": "\u0443", "i": "\u0456", "s": "\u0455", "j": "\u0458",
    "A": "\u0410", "E": "\u0415", "O": "\u041e", "P": "\u0420", "C": "\u0421", "T": "\u0422",
    "H": "\u041d", "K": "\u041a", "M": "\u041c", "B": "\u0412", "X": "\u0425", "I": "\u0406",
}
GREEK = {"A": "\u0391", "B": "\u0392", "E": "\u0395", "I": "\u0399", "N": "\u039d", "O": "\u039f",
         "P": "\u03a1", "T": "\u03a4", "X": "\u03a7", "Z": "\u0396", "K": "\u039a", "M": "\u039c",
         "o": "\u03bf", "v": "\u03bd"}


def homo(text, table=HOMO, only=None):
    return "".join(table.get(c, c) if (only is None or c in only) else c for c in text)


def combining(text, mark="\u0308"):
    return "".join(c + mark if c.isalpha() else c for c in text)


def mathbold(text):
    out = []
    for c in text:
        if "a" <= c <= "z":
            out.append(chr(0x1D41A + ord(c) - 97))
        elif "A" <= c <= "Z":
            out.append(chr(0x1D400 + ord(c) - 65))
        else:
            out.append(c)
    return "".join(out)


def circled(text):
    return "".join(chr(0x24D0 + ord(c) - 97) if "a" <= c <= "z" else c for c in text)


def nest(path, leaf):
    """Build a nested schema. path = steps from the outermost property inward.
    ('p', name[, extra_props]) object property; ('i',) array items; ('any'|'one'|'all', [alts]);
    ('ap',) additionalProperties; ('pp', regex) patternProperties."""
    node = leaf
    for step in reversed(path):
        kind = step[0]
        if kind == "p":
            props = dict(step[2]) if len(step) > 2 else {}
            props[step[1]] = node
            node = {"type": "object", "properties": props}
        elif kind == "i":
            node = {"type": "array", "items": node}
        elif kind in ("any", "one", "all"):
            key = {"any": "anyOf", "one": "oneOf", "all": "allOf"}[kind]
            node = {key: list(step[1]) + [node]}
        elif kind == "ap":
            node = {"type": "object", "additionalProperties": node}
        elif kind == "pp":
            node = {"type": "object", "patternProperties": {step[1]: node}}
        else:
            raise ValueError(kind)
    return node
