"""Shared helpers for the blind2 corpus generator (stdlib only, deterministic)."""

MAIL = {"mail": ["send_email", "list_inbox", "read_email"]}
FILES = {"files": ["read_file", "write_file", "list_directory", "delete_file"]}
GITHUB = {"github": ["create_issue", "create_pull_request", "search_repositories"]}
SLACK = {"slack": ["post_message", "list_channels", "read_channel_history"]}
GITLAB = {"gitlab": ["create_issue", "create_merge_request", "search_projects", "create_branch"]}
PAYMENTS = {"payments": ["transfer_funds", "get_balance", "list_transactions"]}
EXTRA = {"slack": SLACK, "gitlab": GITLAB, "payments": PAYMENTS}


def others(add=(), drop=()):
    """Default others (mail, files, github) plus named extras, minus dropped ones."""
    out = {}
    for block in (MAIL, FILES, GITHUB):
        out.update({k: list(v) for k, v in block.items()})
    for name in add:
        out.update({k: list(v) for k, v in EXTRA[name].items()})
    for name in drop:
        out.pop(name, None)
    return out


def s(desc=None, **kw):
    d = {"type": "string"}
    if desc is not None:
        d["description"] = desc
    d.update(kw)
    return d


def n(desc=None, **kw):
    d = {"type": "number"}
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


def o(props, desc=None, req=None, **kw):
    d = {"type": "object", "properties": _norm(props)}
    if desc is not None:
        d["description"] = desc
    if req:
        d["required"] = list(req)
    d.update(kw)
    return d


def _norm(props):
    return {k: (s(v) if isinstance(v, str) else v) for k, v in props.items()}


def schema(props, req=None):
    props = _norm(props)
    if req is None:
        req = list(props)[:1]
    out = {"type": "object", "properties": props}
    if req:
        out["required"] = list(req)
    return out


THEMES = {
    "weather": ["Get the current weather conditions for a city.",
                "Get active severe-weather alerts for a region.",
                "Get an hourly forecast for the next 48 hours."],
    "notes": ["Create a new note with a title and a markdown body.",
              "List notes, newest first, with optional tag filter.",
              "Delete a note by its id."],
    "calendar": ["List events between two dates.",
                 "Create a calendar event with attendees.",
                 "Find free slots shared by a group of attendees."],
    "calc": ["Multiply two numbers.",
             "Evaluate a simple arithmetic expression.",
             "Convert between units of length, mass and volume."],
    "translate": ["Detect the language of a text.",
                  "List the supported language codes.",
                  "Translate a whole document file (docx, pdf, pptx)."],
    "sql": ["List tables in the connected database.",
            "Describe the columns of a table.",
            "Run a read-only SQL query and return rows as JSON."],
    "k8s": ["List pods in a namespace.",
            "Get the logs of a pod container.",
            "Describe a deployment and its rollout status."],
    "docker": ["List running containers.",
               "Show the logs of a container.",
               "Pull an image from a registry."],
    "jira": ["Get a Jira issue by key.",
             "Transition an issue to a new status.",
             "Add a comment to an issue."],
    "web": ["Fetch a URL and return its content as markdown.",
            "Take a screenshot of a web page.",
            "Extract all links from a page."],
    "search": ["Search the web and return the top results.",
               "Search recent news articles.",
               "Search images by keyword."],
    "crm": ["Look up a contact by email address.",
            "Create a deal in the sales pipeline.",
            "Log a call with a contact."],
    "pdf": ["Extract the text of a PDF.",
            "Merge several PDFs into one file.",
            "Count the pages of a PDF."],
    "image": ["Resize an image to the given width and height.",
              "Convert an image between PNG, JPEG and WebP.",
              "Read the EXIF metadata of a photo."],
    "stocks": ["Get the latest quote for a ticker symbol.",
               "Get historical daily prices for a ticker.",
               "Search tickers by company name."],
    "maps": ["Geocode an address to coordinates.",
             "Get driving directions between two points.",
             "Find places of a given type near a location."],
    "todo": ["Add a task to a project.",
             "Mark a task as complete.",
             "List open tasks, optionally filtered by label."],
    "analytics": ["Get page views for a date range.",
                  "List the top referrers.",
                  "Get the conversion rate of a funnel."],
    "sheets": ["Read a range of cells from a spreadsheet.",
               "Append rows to a sheet.",
               "Create a new spreadsheet."],
    "dict": ["Get synonyms for a word.",
             "Get the etymology of a word.",
             "Get example sentences using a word."],
    "rss": ["Subscribe to an RSS or Atom feed.",
            "List unread feed items.",
            "Mark feed items as read."],
    "crypto": ["Get the spot price of a coin.",
               "List the top coins by market capitalisation.",
               "Get a gas price estimate for Ethereum."],
    "hr": ["List the employees of a team.",
           "Get remaining vacation days for an employee.",
           "Submit a leave request."],
    "news": ["Get the top headlines for a country.",
             "Search articles by keyword.",
             "List available news sources."],
    "git": ["Show the git status of the working tree.",
            "Show the diff of staged changes.",
            "List local branches."],
    "ci": ["List recent pipeline runs.",
           "Re-run a failed job.",
           "Get the log of a job."],
    "invoice": ["List unpaid invoices.",
                "Send a reminder for an overdue invoice.",
                "Export invoices as CSV."],
    "travel": ["Search flights between two airports.",
               "Search hotels in a city for given dates.",
               "Get the details of a booking."],
    "pkg": ["Get metadata for an npm package.",
            "List the published versions of a package.",
            "Check a package version for known vulnerabilities."],
    "shop": ["Search the product catalogue.",
             "Get the status of an order.",
             "List the customer's recent orders."],
    "monitor": ["List firing alerts.",
                "Acknowledge an alert.",
                "Get a metric time series."],
    "support": ["List open support tickets.",
                "Reply to a ticket.",
                "Close a ticket."],
    "recipes": ["Get a recipe by id.",
                "List recipes for a cuisine.",
                "Compute nutrition facts for a recipe."],
    "music": ["Search songs by title or artist.",
              "Get the lyrics of a song.",
              "Create a playlist."],
    "fitness": ["Log a workout.",
                "Get weekly activity totals.",
                "List personal records."],
    "wallet": ["Get the balance of a wallet address.",
               "List recent transactions of an address.",
               "Estimate the fee for a transfer."],
    "home": ["Turn a light on or off.",
             "Get the state of a sensor.",
             "List devices in a room."],
    "docs": ["Search the documentation of a library.",
             "Get a documentation page by path.",
             "List available library versions."],
    "chat": ["List chat rooms.",
             "Read recent messages in a room.",
             "React to a message with an emoji."],
    "cloud": ["List storage buckets.",
              "Upload an object to a bucket.",
              "Get the billing summary for the current month."],
}


def sib(key_or_list):
    if isinstance(key_or_list, str):
        return list(THEMES[key_or_list])
    return list(key_or_list)


def case(cls, server, name, desc, props, siblings, oth=None, req=None):
    return {
        "class": cls,
        "server": server,
        "tool": {"name": name, "description": desc, "inputSchema": schema(props, req)},
        "siblings": sib(siblings),
        "others": oth if oth is not None else others(),
    }
