"""Live execution: replay a workload on real clusters with the simulator's policies.

`target.py` is the provisioner/driver interface; `postgres.py` the local PostgreSQL target,
`redshift.py` Amazon Redshift (boto3 + redshift-connector); `replay.py` the open-loop replay;
`run.py` one run from folder claim to teardown.
"""
