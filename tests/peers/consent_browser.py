"""A headless browser for the consent scripts (sdk_consent.py, sdk2_consent.py): it goes
where an authorization URL leads, signing in at the test authorization server's login as
a user (`&user=NAME`), and visits the gateway's callback. Standard library only, so
either SDK's virtualenv can import it.
"""
import asyncio
import urllib.error
import urllib.request


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _get(url):
    """The status and `Location` of a GET, redirects not followed."""
    try:
        with _OPENER.open(url, timeout=30) as r:
            return r.status, r.headers.get("location")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("location")


def _browse(url, user):
    _, login = _get(url)
    _, callback = _get(f"{login}&user={user}")
    status, _ = _get(callback)
    return status


async def browse(url, user):
    """Consents at `url` as `user`; the status of the gateway's callback page."""
    return await asyncio.to_thread(_browse, url, user)


def consenting(types, user, urls, pages):
    """An SDK's elicitation callback (`types`: that SDK's `mcp.types`) that consents as
    `user`: a URL request's page is browsed and accepted, anything else declined. Each
    URL is appended to `urls`, and the status of its callback page to `pages`."""

    async def elicitation(context, params):
        if getattr(params, "mode", None) != "url":
            return types.ElicitResult(action="decline")
        urls.append(params.url)
        pages.append(await browse(params.url, user))
        return types.ElicitResult(action="accept")

    return elicitation
