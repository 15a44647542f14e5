"""Deploy the NER streaming job to Databricks (Jobs API on databricks-sdk); deploy-job.sh is the front door."""
