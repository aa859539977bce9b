"""Error views that Django does not let templates alone replace (400/403/404/500 are templates/<code>.html)."""

from django.http import HttpResponseNotAllowed
from django.shortcuts import render


def csrf_failure(request, reason=""):
    """A form older than its session (after a log-out, or open in a tab for long): say so, offer a way back."""
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


class MethodNotAllowedPageMiddleware:
    """Django has no handler for 405: a view refusing a method (a GET of the log-out button's address)
    answers with an empty page. This gives it the site's error page, keeping the status and `Allow`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed) and not response.content:
            page = render(request, "405.html", status=405)
            page["Allow"] = response["Allow"]
            return page
        return response
