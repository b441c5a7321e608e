"""The data contract (shared/spec/data-contract.md) in code: schema files, codecs, rules.

The schema files under the repository's `schemas/` folder are the one source of truth;
the modules here read them and never restate them.
"""
