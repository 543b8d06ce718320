"""The IAM policies infra/template.yaml gives each function's role, as AWS would hold them.

Runs the SAM transform (aws-sam-translator, the library `sam deploy` and CloudFormation use),
so policy templates and event-source policies are expanded exactly as on deploy, then resolves
the intrinsic functions in each role's inline policies against the names of a test deployment.

Usage: python sam_policies.py TEMPLATE NAMES_JSON
NAMES_JSON: {"pseudo": {"AWS::Region": ..., "AWS::AccountId": ..., "AWS::StackName": ...,
"AWS::Partition": ...}, "refs": {logical id: what Ref gives}, "arns": {logical id: its ARN},
"attrs": {"Logical.Attribute": value}}.
Prints {function logical id: {"statements": [...], "managed": [...]}} as JSON, every
Action and Resource a list of plain strings.
"""

import json
import re
import sys

import boto3
from samcli.yamlhelper import yaml_parse
from samtranslator.parser import parser
from samtranslator.translator.translator import Translator


def transformed(template_path, region):
    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    # The translator reads code from S3 only; where it lies does not matter to the policies.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/code.zip"
    translator = Translator(
        managed_policy_map=None,
        sam_parser=parser.Parser(),
        boto_session=boto3.session.Session(region_name=region),
    )
    return translator.translate(
        sam_template=template, parameter_values={}, get_managed_policy_map=lambda: {}
    )


class Resolver:
    def __init__(self, names):
        self.pseudo = names["pseudo"]
        self.refs = names["refs"]
        self.arns = names["arns"]
        self.attrs = names.get("attrs", {})

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.refs:
            return self.refs[name]
        raise SystemExit(f"no value for Ref {name}: add it to the test's names")

    def get_att(self, logical, attribute):
        if attribute == "Arn" and logical in self.arns:
            return self.arns[logical]
        key = f"{logical}.{attribute}"
        if key in self.attrs:
            return self.attrs[key]
        raise SystemExit(f"no value for GetAtt {key}: add it to the test's names")

    def sub(self, text, variables=None):
        variables = variables or {}

        def one(match):
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], arg[1])
                return self.sub(arg)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
            if key.startswith("Fn::"):
                raise SystemExit(f"{key} in a policy is not resolved here: {value}")
        return {k: self.resolve(v) for k, v in value.items()}


def as_list(value):
    return value if isinstance(value, list) else [value]


def main():
    template_path, names_json = sys.argv[1], sys.argv[2]
    names = json.loads(names_json)
    resolver = Resolver(names)
    cfn = transformed(template_path, names["pseudo"]["AWS::Region"])
    resources = cfn["Resources"]
    out = {}
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"]["Role"]
        role_id = role["Fn::GetAtt"][0] if isinstance(role["Fn::GetAtt"], list) else role["Fn::GetAtt"].split(".")[0]
        props = resources[role_id]["Properties"]
        statements = []
        for policy in props.get("Policies", []):
            for s in as_list(policy["PolicyDocument"]["Statement"]):
                s = resolver.resolve(s)
                for field in ("NotAction", "NotResource", "NotPrincipal"):
                    if field in s:
                        raise SystemExit(f"{logical}: {field} is not checked here")
                statements.append(
                    {
                        "policy": policy["PolicyName"],
                        "effect": s.get("Effect", "Allow"),
                        "actions": as_list(s["Action"]),
                        "resources": as_list(s["Resource"]),
                        "condition": s.get("Condition"),
                    }
                )
        managed = [
            m if isinstance(m, str) else json.dumps(m)
            for m in props.get("ManagedPolicyArns", [])
        ]
        out[logical] = {"statements": statements, "managed": managed}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
