"""Curation: verify narrations against their traces, filter, deduplicate, decontaminate, publish.

Arrives with the verification/curation and publish issues; nothing here yet.
"""
