"""Transforms a SAM template into plain CloudFormation with AWS's own
translator (aws-sam-translator), offline: the local `CodeUri` becomes the
S3 location `aws cloudformation package` would upload it to, and no
managed policy is looked up. Usage: translate.py TEMPLATE OUT.json"""
import json
import os
import sys

import yaml
from samtranslator.translator.transform import transform

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
template = yaml.safe_load(open(sys.argv[1]))
for resource in template["Resources"].values():
    props = resource.get("Properties", {})
    if resource["Type"] == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
        props["CodeUri"] = "s3://qod-packages/" + os.path.basename(props["CodeUri"])


class NoManagedPolicies:
    def load(self):
        return {}


out = transform(template, {}, NoManagedPolicies())
with open(sys.argv[2], "w") as f:
    json.dump(out, f, indent=1)
