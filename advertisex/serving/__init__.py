"""Serving: Pinot schemas and tables, and the queries users run on them."""
