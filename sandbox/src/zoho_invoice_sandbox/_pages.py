"""The Accounts pages: the consent screen and the error page (Jinja2, everything escaped)."""

from __future__ import annotations

from typing import Any

import jinja2

__all__ = ["render"]

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{% block title %}{% endblock %} - Zoho Accounts (sandbox)</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
.location{color:#666;font-size:.9rem}
fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}
label{display:block;padding:.3rem 0} code{background:#f4f4f4;padding:0 .2rem}
button{padding:.5rem 1.2rem;margin-right:.5rem} .error{color:#a00}
</style></head><body>
<p class="location">Zoho Accounts sandbox &middot; data centre <strong>{{ location }}</strong></p>
{% block body %}{% endblock %}
</body></html>
"""

_CONSENT = """{% extends "base.html" %}
{% block title %}Authorize {{ client_id }}{% endblock %}
{% block body %}
<h1>Allow access?</h1>
<p>The application <code>{{ client_id }}</code> asks to access your Zoho data
{%- if offline %}, also while you are away (offline access){% endif %}:</p>
<ul id="scopes">{% for scope in scopes %}<li><code>{{ scope }}</code></li>{% endfor %}</ul>
<form method="post" action="{{ action }}">
<fieldset><legend>Sign in as</legend>
{% for user in users %}
<label><input type="radio" name="user_id" value="{{ user.user_id }}"
{%- if user.user_id == selected %} checked{% endif %}>
{{ user.display_name }} &lt;{{ user.email }}&gt;
<span class="location">({{ user.location }})</span></label>
{% endfor %}
</fieldset>
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="location">After approval you return to <code>{{ redirect_uri }}</code>.</p>
{% endblock %}
"""

_ERROR = """{% extends "base.html" %}
{% block title %}Error{% endblock %}
{% block body %}
<h1 class="error">Cannot continue</h1>
<p>Error: <code id="error">{{ error }}</code></p>
<p>{{ message }}</p>
{% endblock %}
"""

_ENV = jinja2.Environment(
    loader=jinja2.DictLoader({"base.html": _BASE, "consent.html": _CONSENT, "error.html": _ERROR}),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
