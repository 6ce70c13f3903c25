"""Plays the browser in the demo: opens a Webex authorize link (the simulator's consent page
accepts at once), takes the redirect it answers with, and prints the API Gateway (HTTP API,
payload v2) event that the redirect becomes for the callback function."""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


url = sys.argv[1]
try:
    urllib.request.build_opener(NoRedirect).open(url, timeout=10)
    sys.exit("the authorize page did not redirect")
except urllib.error.HTTPError as redirect:
    location = redirect.headers.get("Location")
    if redirect.code != 302 or not location:
        sys.exit(f"the authorize page answered {redirect.code}")
parts = urllib.parse.urlsplit(location)
print(json.dumps({
    "version": "2.0",
    "routeKey": "GET /oauth/callback",
    "rawPath": parts.path,
    "rawQueryString": parts.query,
    "headers": {"host": parts.netloc},
    "requestContext": {"http": {"method": "GET", "path": parts.path}},
    "isBase64Encoded": False,
}))
