"""The provider API key in Secrets Manager: an existing secret named by the user, or a new one.

A new secret holds a random placeholder until an operator stores the real key
(`aws secretsmanager put-secret-value --secret-id <name> --secret-string <key>`); until then the
provider answers INVALID_API_KEY and the provider-error alarm fires. The key is never in an
environment variable or a stack output: functions get the secret's ARN or name and read it at run time.

A secret this stack creates is deleted with the stack, whatever `removalPolicy` says (that knob keeps
the data: bucket, tables, logs). Its name, "<stack>/highway-api-key", is what operators type, so it
stays fixed; a retained copy would block the next deploy of the same stack ("... already exists"), and
CloudFormation deletes a secret without a recovery window, so the name is free again at once. The
other way out, a name made unique per deploy, would leave a paid orphan and a new name to look up after
every redeploy. The placeholder holds nothing worth keeping; the real key can be stored again from the
provider's console. To keep a key across stack deletions, create the secret yourself and pass
`apiKeySecretName`: the stack then only reads it and never deletes it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from i2v_infra.nag import acknowledge


class ApiKeySecret(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, existing_name: str | None, new_name: str) -> None:
        super().__init__(scope, construct_id)
        self.created = existing_name is None
        if existing_name is not None:
            self.secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_name_v2(
                self, "Secret", existing_name)
            self.secret_name = existing_name
            # A name-only import has no full ARN; Secrets Manager appends a 6-character suffix.
            self.policy_arn = cdk.Stack.of(self).format_arn(
                service="secretsmanager", resource="secret", resource_name=f"{existing_name}-??????",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
            self.reference = existing_name  # what the functions pass to GetSecretValue
            return

        secret = secretsmanager.Secret(
            self, "Secret",
            secret_name=new_name,
            description="HighwayAPI key for the i2v pipeline. Replace the generated placeholder with "
                        "the real key: aws secretsmanager put-secret-value --secret-id "
                        f"{new_name} --secret-string <key>",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True,
                                                                        password_length=40),
            removal_policy=cdk.RemovalPolicy.DESTROY,  # see the module docstring: never block a redeploy
        )
        acknowledge(secret, "SMG4",
                    "The key is issued in the HighwayAPI console, which offers no API to rotate it; "
                    "operators rotate it by hand with put-secret-value.")
        self.secret = secret
        self.secret_name = new_name
        self.policy_arn = secret.secret_arn
        self.reference = secret.secret_arn

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """secretsmanager:GetSecretValue on this secret only (for an import: '-??????', the suffix)."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"], resources=[self.policy_arn]))
