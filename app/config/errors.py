"""Error views that Django does not let templates alone replace (400/403/404/500 are templates/<code>.html)."""
from django.shortcuts import render


def csrf_failure(request, reason=""):
    """A form older than its session (after a log-out, or open in a tab for long): say so, offer a way back."""
    return render(request, "403_csrf.html", {"reason": reason}, status=403)
