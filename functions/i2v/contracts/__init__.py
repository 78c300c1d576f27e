"""The pipeline's typed contracts: pure Python, standard library only, no I/O.

Everything two parts of the product must agree on lives here once: job statuses, error codes and
the error document, the parameter rules, the job and the workflow state. The Lambda functions, the
CDK app (which validates the stack defaults with the very rules the functions apply), the embedded
cloud and the command line all import from here; an import-linter contract keeps it free of
boto3, requests, Powertools and the rest of the functions' code.
"""

from i2v.contracts.params import problems, validate_params

__all__ = ["problems", "validate_params"]
