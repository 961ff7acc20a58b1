"""Shared helpers for the blind3 corpus generator (stdlib only, deterministic)."""

DEFAULT_OTHERS = {
    "mail": ["send_email", "list_inbox", "read_email"],
    "files": ["read_file", "write_file", "list_directory", "delete_file"],
    "github": ["create_issue", "create_pull_request", "search_repositories"],
}

EXTRA_OTHERS = {
    "slack": ["post_message", "list_channels", "get_channel_history"],
    "gitlab": ["create_issue", "create_merge_request", "search_projects"],
    "payments": ["transfer_funds", "get_balance", "list_transactions"],
}


def others(add=(), drop=(), extra=None):
    """Default `others` map, optionally adding slack/gitlab/payments or dropping a server."""
    out = {k: list(v) for k, v in DEFAULT_OTHERS.items() if k not in drop}
    for name in add:
        out[name] = list(EXTRA_OTHERS[name])
    if extra:
        for k, v in extra.items():
            out[k] = list(v)
    return out


def _typed(t, desc, kw):
    d = {"type": t}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def S(desc=None, **kw):
    return _typed("string", desc, kw)


def I(desc=None, **kw):
    return _typed("integer", desc, kw)


def N(desc=None, **kw):
    return _typed("number", desc, kw)


def B(desc=None, **kw):
    return _typed("boolean", desc, kw)


def A(items, desc=None, **kw):
    d = {"type": "array", "items": items}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def O(props, req=None, desc=None, **kw):
    d = {"type": "object", "properties": props}
    if req:
        d["required"] = list(req)
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def case(cls, server, name, desc, props, siblings, req=None, oth=None, schema=None):
    assert 2 <= len(siblings) <= 5, (server, name)
    return {
        "class": cls,
        "server": server,
        "tool": {
            "name": name,
            "description": desc,
            "inputSchema": schema if schema is not None else O(props, req),
        },
        "siblings": list(siblings),
        "others": oth if oth is not None else others(),
    }
