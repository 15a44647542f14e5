# The bundle's job resource, generated from deploy/databricks/job_spec.py (the script's job spec): one source.
.PHONY: bundle-resource
bundle-resource: venv ## Regenerate resources/ner_streaming.job.yml from deploy/databricks/job_spec.py
	@$(PY) -m deploy.databricks.bundle_resource
