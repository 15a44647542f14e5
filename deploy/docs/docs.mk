# Generated docs (deploy/docs/), included by the root Makefile. test/test_docs.py fails when the result is stale.
.PHONY: docs
docs: venv ## Regenerate the README's settings table from app/settings.py (python -m deploy.docs.settings_table)
	$(PY) -m deploy.docs.settings_table
