"""Pinot: placeholder until the roles are wired."""

from __future__ import annotations


def pinot_services(cfg):
    return []
