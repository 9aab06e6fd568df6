"""The web interfaces: the officer's console (``/console``) and the person's public pages
(``/notice/{id}``, ``/rights/{id}``). Server-rendered (Jinja2), no script, same service layer
as the REST API."""
