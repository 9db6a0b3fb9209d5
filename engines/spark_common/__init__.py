"""What the two Spark engines share: code that needs only a SparkSession.

`engines.spark` runs it on a local session under the home; `engines.databricks` runs it inside the
deployed jobs, on the job's session (Spark Connect on serverless compute). So nothing here may use
the classic-only API (sparkContext, RDDs, localCheckpoint): tests/test_serverless_api.py reads these
modules for it, and the Databricks jobs of the end-to-end test run them on a Spark Connect session.

- conf.py: the settings of a local session (warehouse folder, Derby metastore, quiet logs);
- landing.py: the landing macro's Spark reader;
- warehouse.py: the refund side's questions of the Spark tables;
- scoring.py: Refund_Recommender_Stream, the Structured Streaming scorer.
"""
