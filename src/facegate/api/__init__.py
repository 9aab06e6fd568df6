"""The REST API. Every endpoint needs an API key (header ``X-API-Key``); the key's role decides
what it may do (``security.controls``): ``operator`` enrols, verifies and identifies;
``officer`` manages deployments, subjects, consents and reads the audit trail; ``auditor`` only
reads the audit trail. Refusals are 403 with the rule ids; bad input 422, 413 or 415."""
