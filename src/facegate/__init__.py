"""facegate: face recognition governed by the CAC face recognition rules.

Requests travel one way: interface (``api``, ``cli``) -> ``service`` (use cases) ->
``policy`` (the pure gate) -> ``engine`` / ``store`` / ``index`` / ``audit``.
"""

__version__ = "0.1.0"
