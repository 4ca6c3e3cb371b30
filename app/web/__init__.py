"""The HTTP face: one blueprint per area, the HTTP schemas, the error envelope and access checks.
The only package (with app/__init__.py) that imports Flask."""
