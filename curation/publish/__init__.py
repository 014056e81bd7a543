"""Publish a curated run as a Hugging Face dataset folder, and push it to the Hub."""
